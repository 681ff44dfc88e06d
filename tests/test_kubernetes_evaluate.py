"""NetworkPolicy semantics, one API rule per test, on hand-written records.

World: serving has pods of segments a {app: a} and b {app: b, tier: web};
data has c {app: c} and d {app: d}; kube-system runs the cluster DNS
(k8s-app=kube-dns); vm (10.9.0.0/24) is outside the cluster. The world is
open: every named namespace also holds pods of no segment (`~ns/{}`), and
each selector of the plan has a witness pod it matches that is no segment's
(`~ns/{labels}`, `~other-namespace/...` for namespaces the spec never names).
"""

from __future__ import annotations

from typing import Any

import pytest

from cloudfence.addresses import AddressSet
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.ports import PortSet, parse_port
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.reach import Peer

K8S = KubernetesProvider()
TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INTENT = parse_intent("""\
version: 1
name: t
segments:
  a: {kubernetes: {namespace: serving, labels: {app: a}}}
  b: {kubernetes: {namespace: serving, labels: {app: b, tier: web}}}
  c: {kubernetes: {namespace: data, labels: {app: c}}}
  d: {kubernetes: {namespace: data, labels: {app: d}}}
  vm: {cidr: 10.9.0.0/24}
flows: []
""")
ANY = PortSet.any()
ALL = Peer.all()


def ns(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def pods(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def policy(name: str, namespace: str | None, spec: dict[str, Any]) -> Resource:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return Resource(TYPE, name, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": metadata, "spec": spec})


def rules(*policies: Resource) -> dict[tuple[str, str], set[tuple[Peer, PortSet]]]:
    reach = K8S.evaluate(Plan("t", "kubernetes", tuple(policies)), INTENT)
    return {(s, d): set(reach.rules(s, d)) for s in "abcd" for d in ("ingress", "egress")}


def segs(*names: str, others: tuple[str, ...] = (), partly: tuple[str, ...] = ()) -> Peer:
    return Peer(segments=frozenset(names), others=frozenset(others), partly=frozenset(partly))


def only_a(spec: dict[str, Any]) -> dict[tuple[str, str], set]:
    return rules(policy("p", "serving", {"podSelector": pods(app="a"), **spec}))


def test_no_policy_leaves_every_pod_unrestricted_both_ways():
    r = rules()
    assert all(v == {(ALL, ANY)} for v in r.values())


def test_ingress_and_egress_empty_lists_isolate_and_allow_nothing():
    r = only_a({"policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []})
    assert r[("a", "ingress")] == set() and r[("a", "egress")] == set()
    assert r[("b", "ingress")] == {(ALL, ANY)}, "b is not selected: still open"


def test_policy_types_only_ingress_leaves_egress_open_even_with_egress_rules():
    r = only_a({"policyTypes": ["Ingress"], "ingress": [],
                "egress": [{"to": [{"podSelector": pods(app="b")}]}]})
    assert r[("a", "ingress")] == set()
    assert r[("a", "egress")] == {(ALL, ANY)}


def test_policy_types_default_to_ingress_plus_egress_only_when_egress_rules_exist():
    assert only_a({"egress": []})[("a", "egress")] == {(ALL, ANY)}
    assert only_a({})[("a", "ingress")] == set()
    r = only_a({"egress": [{"to": [{"podSelector": pods(app="b", tier="web")}], "ports": [{"port": 80}]}]})
    assert r[("a", "egress")] == {(segs("b"), parse_port("tcp/80"))}
    assert r[("a", "ingress")] == set()


def test_rule_without_peers_or_ports_means_every_peer_and_port():
    r = only_a({"policyTypes": ["Ingress", "Egress"], "ingress": [{}],
                "egress": [{"to": [], "ports": []}]})
    assert r[("a", "ingress")] == {(ALL, ANY)}
    assert r[("a", "egress")] == {(ALL, ANY)}


def test_namespace_and_pod_selector_in_one_peer_are_anded():
    r = only_a({"ingress": [{"from": [{"namespaceSelector": ns("data"), "podSelector": pods(app="c")}]}]})
    assert r[("a", "ingress")] == {(segs("c"), ANY)}


def test_namespace_and_pod_selector_as_two_peers_are_ored():
    r = only_a({"ingress": [{"from": [{"namespaceSelector": ns("data")},
                                      {"podSelector": pods(app="b", tier="web")}]}]})
    assert r[("a", "ingress")] == {(segs("c", "d", others=("~data/{}",)), ANY), (segs("b"), ANY)}


def test_pod_selector_alone_means_the_policys_own_namespace():
    r = only_a({"ingress": [{"from": [{"podSelector": pods(app="c")}]}]})
    assert r[("a", "ingress")] == {(segs(others=("~serving/{app=c}",)), ANY)}, "not c of data"
    r = only_a({"ingress": [{"from": [{"podSelector": {}}]}]})
    assert r[("a", "ingress")] == {(segs("a", "b", others=("~serving/{}",)), ANY)}


def test_empty_namespace_selector_means_every_namespace_including_cluster_dns_and_unnamed_ones():
    r = only_a({"ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert r[("a", "ingress")] == {(segs("a", "b", "c", "d", others=(
        "@cluster-dns", "~data/{}", "~kube-system/{}", "~serving/{}", "~other-namespace/{}")), ANY)}


def test_pod_selector_matches_label_subsets_and_pods_of_no_segment_with_those_labels():
    """b's pods carry tier=web; a's pods may too (they may carry more labels), but
    need not: a is reached in part, which proves nothing about a flow from a."""
    r = only_a({"ingress": [{"from": [{"podSelector": pods(tier="web")}]}]})
    assert r[("a", "ingress")] == {(segs("b", others=("~serving/{tier=web}",), partly=("a",)), ANY)}
    r = only_a({"ingress": [{"from": [{"podSelector": pods(app="c", tier="web")}]}]})
    assert r[("a", "ingress")] == {(segs(others=("~serving/{app=c, tier=web}",)), ANY)}


def test_selectors_matching_no_segment_reach_pods_of_no_segment():
    r = only_a({"ingress": [{"from": [{"podSelector": pods(app="ghost")},
                                      {"namespaceSelector": ns("elsewhere")}]}]})
    assert r[("a", "ingress")] == {(segs(others=("~serving/{app=ghost}",)), ANY),
                                   (segs(others=("~elsewhere/{}",)), ANY)}


def test_kube_dns_peer_is_the_cluster_dns_end():
    r = only_a({"policyTypes": ["Egress"], "egress": [{"to": [
        {"namespaceSelector": ns("kube-system"), "podSelector": pods(**{"k8s-app": "kube-dns"})}],
        "ports": [{"protocol": "UDP", "port": 53}]}]})
    assert r[("a", "egress")] == {(segs(others=("@cluster-dns",)), parse_port("udp/53"))}
    assert r[("a", "ingress")] == {(ALL, ANY)}


def test_ipblock_is_cidr_minus_except():
    r = only_a({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}]}]})
    want = AddressSet.from_cidrs(["10.0.0.0/8"]) - AddressSet.from_cidrs(["10.9.0.0/16"])
    assert r[("a", "ingress")] == {(Peer(addresses=want), ANY)}


@pytest.mark.parametrize(("ports", "want"), [
    ([{"protocol": "TCP", "port": 8000, "endPort": 8002}], "tcp/8000-8002"),
    ([{"protocol": "UDP", "port": 53}], "udp/53"),
    ([{"port": 443}], "tcp/443"),
    ([{"protocol": "SCTP"}], "sctp/0-65535"),
    ([{"protocol": "UDP", "port": 53}, {"port": 53}], "udp/53 tcp/53"),
])
def test_port_entries(ports, want):
    expected = PortSet()
    for lit in want.split():
        expected = expected | parse_port(lit)
    r = only_a({"ingress": [{"from": [{"podSelector": pods(app="b", tier="web")}], "ports": ports}]})
    assert r[("a", "ingress")] == {(segs("b"), expected)}


def test_policies_are_additive():
    r = rules(policy("p1", "serving", {"podSelector": pods(app="a"),
                                       "ingress": [{"from": [{"podSelector": pods(tier="web", app="b")}],
                                                    "ports": [{"port": 80}]}]}),
              policy("p2", "serving", {"podSelector": {},
                                       "ingress": [{"from": [{"ipBlock": {"cidr": "10.9.0.0/24"}}],
                                                    "ports": [{"port": 22}]}]}))
    assert r[("a", "ingress")] == {(segs("b"), parse_port("tcp/80")),
                                   (Peer.cidrs(["10.9.0.0/24"]), parse_port("tcp/22"))}
    assert r[("b", "ingress")] == {(Peer.cidrs(["10.9.0.0/24"]), parse_port("tcp/22"))}


def test_a_policy_selects_only_pods_of_its_own_namespace():
    r = rules(policy("p", "data", {"podSelector": pods(app="a"), "ingress": []}))
    assert r[("a", "ingress")] == {(ALL, ANY)}


def test_absent_pod_selector_selects_every_pod_of_the_namespace_and_default_ns_is_default():
    r = rules(policy("p", "data", {"ingress": []}))
    assert r[("c", "ingress")] == r[("d", "ingress")] == set()
    assert r[("a", "ingress")] == {(ALL, ANY)}
    r = rules(policy("p", None, {"podSelector": {}, "ingress": []}))  # namespace "default"
    assert all(v == {(ALL, ANY)} for v in r.values())


def test_default_deny_adds_nothing_to_a_segment_policy():
    own = policy("own", "serving", {"podSelector": pods(app="a"), "policyTypes": ["Ingress", "Egress"],
                                    "ingress": [{"from": [{"podSelector": pods(app="b", tier="web")}]}],
                                    "egress": []})
    deny = policy("deny", "serving", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    r = rules(own, deny)
    assert r[("a", "ingress")] == {(segs("b"), ANY)} and r[("a", "egress")] == set()
    assert r[("b", "ingress")] == set() == r[("b", "egress")]
    assert r[("c", "ingress")] == {(ALL, ANY)}


@pytest.mark.parametrize(("expr", "who"), [
    ({"key": "app", "operator": "In", "values": ["c", "d"]}, "cd"),
    ({"key": "app", "operator": "NotIn", "values": ["c"]}, "abd"),
    ({"key": "tier", "operator": "Exists"}, "abcd"),  # only b is sure to carry it
    ({"key": "tier", "operator": "DoesNotExist"}, "acd"),
])
def test_match_expressions(expr, who):
    r = only_a({"ingress": [{"from": [{"namespaceSelector": ns("data"),
                                       "podSelector": {"matchExpressions": [expr]}},
                                      {"namespaceSelector": ns("serving"),
                                       "podSelector": {"matchExpressions": [expr]}}]}]})
    reached = set().union(*(p.segments | p.partly for p, _ in r[("a", "ingress")]))
    assert reached == set(who)
    # a selector some of a segment's pods need not meet reaches it only in part
    surely = set().union(*(p.segments for p, _ in r[("a", "ingress")]))
    assert surely == {"cd": set("cd"), "abd": set("abd"), "abcd": {"b"}, "acd": set()}[who]  # may carry tier


def test_records_of_other_types_are_ignored():
    other = Resource("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"namespace": "serving"}})
    assert rules(other)[("a", "ingress")] == {(ALL, ANY)}
