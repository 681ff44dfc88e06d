"""The reachability model: both ends, layers, governed ends, counterexamples."""

from __future__ import annotations

from cloudfence.intent import parse_intent
from cloudfence.ports import PortSet, parse_port
from cloudfence.reach import EGRESS, INGRESS, Peer, Reachability, World, compare, intended

SPEC = """
version: 1
name: demo
segments:
  web: {cidr: 10.0.1.0/24}
  api: {cidr: 10.0.2.0/24}
  pods: {kubernetes: {namespace: ns, labels: {app: pods}}}
networks:
  office: [192.168.0.0/16]
flows:
  - {from: web, to: api, ports: [tcp/8080]}
  - {from: office, to: web, ports: [tcp/443]}
  - {from: pods, to: api, ports: [tcp/9000-9010]}
"""
INTENT = parse_intent(SPEC)
ALL = set(INTENT.segments)


def test_the_intent_is_equivalent_to_itself() -> None:
    v = compare(INTENT, intended(INTENT, ALL), intended(INTENT, ALL))
    assert v.equivalent and v.total_differences == 0 and v.connections > 0


def test_a_connection_needs_both_ends() -> None:
    actual = intended(INTENT, ALL)
    actual2 = Reachability("t", ALL)
    for seg in ALL:
        for direction in (EGRESS, INGRESS):
            for peer, ports in actual.rules(seg, direction):
                if not (seg == "api" and direction == INGRESS and peer == Peer.segment("web")):
                    actual2.allow(seg, direction, peer, ports)
    v = compare(INTENT, intended(INTENT, ALL), actual2)
    assert not v.equivalent
    [c] = v.counterexamples
    assert (c.kind, c.source, c.destination, c.protocol, c.port) == (
        "missing", "web (10.0.1.1)", "api (10.0.2.1)", "tcp", 8080)
    assert c.explanation == "intended but not allowed"


def test_a_widened_port_is_reported_with_the_extra_ports() -> None:
    actual = intended(INTENT, ALL)
    actual.allow("web", INGRESS, Peer.cidrs(["192.168.0.0/16"]), parse_port("tcp/443-445"))
    v = compare(INTENT, intended(INTENT, ALL), actual)
    assert [(c.kind, c.protocol, c.ports) for c in v.counterexamples] == [("extra", "tcp", "444-445")]
    assert v.counterexamples[0].source.startswith("office (192.168.0.1")


def test_extra_rules_masked_by_the_other_end_are_not_reachable() -> None:
    actual = intended(INTENT, ALL)
    actual.allow("api", INGRESS, Peer.segment("web"), parse_port("tcp/1-65535"))
    assert compare(INTENT, intended(INTENT, ALL), actual).equivalent


def test_ungoverned_ends_are_not_judged() -> None:
    governed = {"pods"}
    actual = Reachability("k8s", governed)
    actual.allow("pods", EGRESS, Peer.segment("api"), parse_port("tcp/9000-9010"))
    assert compare(INTENT, intended(INTENT, governed), actual).equivalent


def test_unrestricted_segment_reaches_everything() -> None:
    actual = intended(INTENT, ALL)
    actual.allow("pods", EGRESS, Peer.all(), PortSet.any())
    v = compare(INTENT, intended(INTENT, ALL), actual)
    assert not v.equivalent
    assert {c.destination.split(" ")[0] for c in v.counterexamples} >= {"office", "internet"}


def test_address_rules_reach_unaddressed_segments_only_when_covering_a_family() -> None:
    world = World(INTENT)
    assert "pods" in world.resolve(Peer.cidrs(["0.0.0.0/0"])).opaque
    assert "pods" not in world.resolve(Peer.cidrs(["10.0.0.0/8"])).opaque
    assert world.resolve(Peer.segment("web")).addresses == INTENT.segments["web"].addresses


def test_layers_must_all_allow() -> None:
    actual = intended(INTENT, ALL)
    actual.add_layer("acl", ["api"])
    actual.allow("api", INGRESS, Peer.cidrs(["10.0.1.0/24"]), parse_port("tcp/8000-8100"), layer="acl")
    v = compare(INTENT, intended(INTENT, ALL), actual)
    # web -> api passes both layers; pods -> api (opaque, not in the ACL's CIDR) is now blocked.
    assert [(c.kind, c.source, c.port) for c in v.counterexamples] == [("missing", "pods", 9000)]
