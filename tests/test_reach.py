"""The reachability model: intent from flows alone, both ends, layers, the open
world (background ends, hidden segments, readings), counterexamples."""

from __future__ import annotations

from cloudfence.addresses import AddressSet
from cloudfence.intent import Intent, parse_intent
from cloudfence.ports import PortSet, parse_port
from cloudfence.reach import NARROW, WIDE, World, compare, intended, join
from cloudfence.reachability import EGRESS, INGRESS, NEVER, OVERLAP, Peer, Reachability
from cloudfence.space import Space

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


def openings(intent: Intent, governed: set[str], space: Space | None = None) -> Reachability:
    """What a faithful per-end compiler opens: each flow's egress at its source
    and ingress at its destination, networks as their exact addresses."""
    space = space or Space(intent)
    reach = Reachability("t", governed)

    def peer(ep):
        if ep.kind == "network":
            return Peer(addresses=space.network(ep.name))
        return Peer.of(ep, intent)

    for f in intent.flows:
        if f.src.is_segment and f.src.name in governed:
            reach.allow(f.src.name, EGRESS, peer(f.dst), f.ports)
        if f.dst.is_segment and f.dst.name in governed:
            reach.allow(f.dst.name, INGRESS, peer(f.src), f.ports)
    return reach


def judge(intent: Intent, actual: Reachability, space: Space | None = None):
    world = World(intent, space, actual)
    expected = intended(intent, world, actual.governed)
    diffs, classes = compare(world, expected, join(actual, world, WIDE), join(actual, world, NARROW))
    return diffs, classes


def test_faithful_openings_are_equivalent_to_the_flows() -> None:
    diffs, classes = judge(INTENT, openings(INTENT, ALL))
    assert diffs == [] and classes > 0


def test_a_connection_needs_both_ends() -> None:
    actual = Reachability("t", ALL)
    ideal = openings(INTENT, ALL)
    for seg in ALL:
        for direction in (EGRESS, INGRESS):
            for p, ports in ideal.rules(seg, direction):
                if not (seg == "api" and direction == INGRESS and p == Peer.segment("web")):
                    actual.allow(seg, direction, p, ports)
    [c], _ = judge(INTENT, actual)
    assert (c.kind, c.source, c.destination, c.protocol, c.port) == (
        "missing", "web (10.0.1.1)", "api (10.0.2.1)", "tcp", 8080)
    assert c.explanation == "intended but not allowed"


def test_a_widened_port_is_reported_with_the_extra_ports() -> None:
    actual = openings(INTENT, ALL)
    actual.allow("web", INGRESS, Peer.cidrs(["192.168.0.0/16"]), parse_port("tcp/443-445"))
    diffs, _ = judge(INTENT, actual)
    assert [(c.kind, c.protocol, c.ports) for c in diffs] == [("extra", "tcp", "444-445")]
    assert diffs[0].source.startswith("office (192.168.0.1")


def test_extra_rules_masked_by_the_other_end_are_not_reachable() -> None:
    actual = openings(INTENT, ALL)
    actual.allow("api", INGRESS, Peer.segment("web"), parse_port("tcp/1-65535"))
    assert judge(INTENT, actual)[0] == []


def test_ungoverned_ends_are_not_judged() -> None:
    actual = Reachability("k8s", {"pods"})
    actual.allow("pods", EGRESS, Peer.segment("api"), parse_port("tcp/9000-9010"))
    assert judge(INTENT, actual)[0] == []


def test_unrestricted_segment_reaches_everything() -> None:
    actual = openings(INTENT, ALL)
    actual.allow("pods", EGRESS, Peer.all(), PortSet.any())
    diffs, _ = judge(INTENT, actual)
    assert {c.destination.split(" ")[0] for c in diffs} >= {"office", "internet", "unnamed"}


def test_two_flows_through_internet_do_not_bridge_segments() -> None:
    """internet -> web, web -> internet and api -> internet: per-end openings
    through one shared range would join into api -> web; the flows do not."""
    spec = parse_intent("""
version: 1
name: bridge
segments:
  web: {cidr: 52.0.0.0/24}
  api: {cidr: 52.0.1.0/24}
networks:
  everything: [0.0.0.0/0]
flows:
  - {from: everything, to: web, ports: [tcp/443]}
  - {from: web, to: everything, ports: [tcp/443]}
  - {from: api, to: everything, ports: [tcp/443]}
""")
    raw = Reachability("t", {"web", "api"})  # rules written from the listed range, not the meaning
    raw.allow("web", INGRESS, Peer.cidrs(["0.0.0.0/0"]), parse_port("tcp/443"))
    raw.allow("web", EGRESS, Peer.cidrs(["0.0.0.0/0"]), parse_port("tcp/443"))
    raw.allow("api", EGRESS, Peer.cidrs(["0.0.0.0/0"]), parse_port("tcp/443"))
    diffs, _ = judge(spec, raw)
    assert {(c.kind, c.source, c.destination) for c in diffs} == {
        ("extra", "web (52.0.0.1)", "web (52.0.0.1)"), ("extra", "api (52.0.1.1)", "web (52.0.0.1)")}
    assert judge(spec, openings(spec, {"web", "api"}))[0] == []


def test_segments_without_a_cidr_may_be_where_an_address_rule_reaches() -> None:
    spec = parse_intent("""
version: 1
name: hidden
segments:
  batch: {}
  payments: {}
networks:
  internal: [10.0.0.0/8]
flows:
  - {from: batch, to: internal, ports: [tcp/443]}
  - {from: internal, to: payments, ports: [tcp/443]}
""")
    diffs, _ = judge(spec, openings(spec, {"batch", "payments"}))
    assert [(c.kind, c.source, c.destination) for c in diffs] == [("extra", "batch", "payments")]
    # Known to live elsewhere (an internal space outside 10/8), they cannot be bridged.
    space = Space(spec, internal=AddressSet.from_cidrs(["172.16.0.0/16"]))
    assert judge(spec, openings(spec, {"batch", "payments"}, space), space)[0] == []


def test_the_narrow_reading_decides_what_is_missing() -> None:
    spec = parse_intent("""
version: 1
name: readings
segments:
  a: {}
  b: {}
flows:
  - {from: a, to: b, ports: [tcp/80]}
""")
    actual = Reachability("t", {"a", "b"})
    actual.allow("a", EGRESS, Peer.segment("b"), parse_port("tcp/80"))
    actual.allow("b", INGRESS, Peer.cidrs(["10.0.0.0/8"]), parse_port("tcp/80"))  # a may be there, or not
    diffs, _ = judge(spec, actual)
    # a -> b passes only if a's members are in 10/8; unmanaged hosts there surely pass.
    assert [(c.kind, c.source, c.destination) for c in diffs] == [
        ("unsure", "a", "b"), ("extra", "unnamed address (10.0.0.1 .. 10.255.255.255)", "b")]
    assert "intended, allowed only" in diffs[0].explanation or diffs[0].explanation.startswith("intended")
    everywhere = Reachability("t", {"a", "b"})
    everywhere.allow("a", EGRESS, Peer.segment("b"), parse_port("tcp/80"))
    everywhere.allow("b", INGRESS, Peer.cidrs(["0.0.0.0/0", "::/0"]), parse_port("tcp/80"))
    assert [c.kind for c in judge(spec, everywhere)[0]] == ["extra"] * 2  # holds every a; also others
    assert all(c.source != "a" for c in judge(spec, everywhere)[0])


def test_background_ends_are_judged_against_segments() -> None:
    actual = openings(INTENT, ALL)
    actual.declare("~ns-other", AddressSet(), "a pod of no segment in namespace ns")
    actual.allow("~ns-other", EGRESS, Peer.all(), PortSet.any())
    actual.allow("~ns-other", INGRESS, Peer.all(), PortSet.any())
    assert judge(INTENT, actual)[0] == []  # nothing lets it in or out of a segment
    actual.allow("api", INGRESS, Peer(others=frozenset(["~ns-other"])), parse_port("tcp/9000"))
    [c], _ = judge(INTENT, actual)
    assert (c.kind, c.source, c.destination, c.port) == (
        "extra", "a pod of no segment in namespace ns", "api (10.0.2.1)", 9000)


def test_pods_are_identities_and_their_addresses_phantom() -> None:
    actual = openings(INTENT, ALL)
    actual.address_match = (OVERLAP, NEVER)
    actual.region("pods", AddressSet.from_cidrs(["10.100.0.0/16"]))
    actual.phantom = AddressSet.from_cidrs(["10.100.0.0/16"])
    assert judge(INTENT, actual)[0] == []
    actual.allow("pods", EGRESS, Peer.segment("api"), parse_port("udp/53"))
    actual.allow("api", INGRESS, Peer.cidrs(["10.100.0.0/24"]), parse_port("udp/53"))
    diffs, _ = judge(INTENT, actual)
    # Under the wide reading the ipBlock reaches the pods; the phantom addresses are not judged.
    assert [(c.kind, c.source, c.protocol) for c in diffs] == [("extra", "pods", "udp")]


def test_protocols_a_target_leaves_undefined_are_not_judged() -> None:
    actual = openings(INTENT, ALL)
    actual.allow("api", INGRESS, Peer.segment("web"), parse_port("icmp"))
    actual.allow("web", EGRESS, Peer.segment("api"), parse_port("icmp"))
    assert [c.protocol for c in judge(INTENT, actual)[0]] == ["icmp"]
    actual.judged_protocols = frozenset({"tcp", "udp", "sctp"})
    assert judge(INTENT, actual)[0] == []


def test_layers_must_all_allow() -> None:
    actual = openings(INTENT, ALL)
    actual.add_layer("acl", ["api"])
    actual.allow("api", INGRESS, Peer.cidrs(["10.0.1.0/24"]), parse_port("tcp/8000-8100"), layer="acl")
    diffs, _ = judge(INTENT, actual)
    # web -> api passes both layers; pods -> api (opaque, not in the ACL's CIDR) is now blocked.
    assert [(c.kind, c.source, c.port) for c in diffs] == [("missing", "pods", 9000)]


def test_address_sets_united_at_once_equal_the_union_set_by_set() -> None:
    sets = [AddressSet.from_cidrs(c) for c in (["10.0.0.0/24", "2001:db8::/64"], ["10.0.1.0/24"], [],
                                                ["10.0.0.128/25", "192.168.0.0/16"])]
    step = AddressSet()
    for s in sets:
        step = step | s
    assert AddressSet.of_all(sets) == step
    assert AddressSet.of_all(sets).cidrs() == AddressSet.from_cidrs(
        ["10.0.0.0/23", "192.168.0.0/16", "2001:db8::/64"]).cidrs()
    assert AddressSet.of_all([]) == AddressSet()
