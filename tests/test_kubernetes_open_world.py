"""Regression tests for the Kubernetes cases of "verify is a proof": each case
either verifies equivalent with rules that really allow exactly the flows, or
is refused in check, or (for a plan edited by hand) is a counterexample."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify, verify_plan

K8S = KubernetesProvider()
KUBE_SYSTEM = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
SEGMENTS = """\
  web: {kubernetes: {namespace: serving, labels: {app: web}}}
  api: {kubernetes: {namespace: serving, labels: {app: api}}}
  db: {kubernetes: {namespace: data, labels: {app: db}}}
"""
CLUSTER = {"clusterCidrs": ["10.244.0.0/16", "10.96.0.0/12"]}


def intent_of(flows: str, segments: str = SEGMENTS, networks: str = ""):
    nets = f"networks:\n{networks}" if networks else ""
    return parse_intent(f"version: 1\nname: t\nsegments:\n{segments}{nets}\nflows:\n{flows}", "segments.yaml")


def edited(plan: Plan, name: str, edit) -> Plan:
    """The plan with one policy's inputs edited by hand."""
    out = []
    for r in plan:
        if r.name == name:
            inputs = copy.deepcopy(r.inputs)
            edit(inputs["spec"])
            r = Resource(r.type, r.name, inputs)
        out.append(r)
    return dataclasses.replace(plan, resources=tuple(out))


def extras(verdict) -> set[tuple[str, str]]:
    return {(c.source, c.destination) for c in verdict.counterexamples if c.kind == "extra"}


def rule_to(spec: dict[str, Any], key: str, side: str, match) -> dict[str, Any]:
    [rule] = [r for r in spec[key] if any(match(p) for p in r[side])]
    return rule


# ------------------------------------------------- shared ranges never bridge

BRIDGE = """\
  - {from: internet, to: web, ports: [tcp/443]}
  - {from: web, to: internet, ports: [tcp/443]}
  - {from: api, to: internet, ports: [tcp/443]}
"""


@pytest.mark.parametrize("cni", ["calico", "cilium", "unknown"])
def test_internet_both_ways_does_not_bridge_pods(cni):
    """internet is public space: no ipBlock of it reaches a pod, so web cannot
    reach web and api cannot reach web, whatever the CNI."""
    verdict = verify(intent_of(BRIDGE), K8S, {"cni": cni})
    assert verdict.equivalent, verdict.counterexamples


def test_an_ipblock_of_everything_would_bridge_pods_under_calico():
    """What the plan used to say (0.0.0.0/0): Calico's ipBlock matches pods."""
    intent = intent_of(BRIDGE)
    plan = checked_plan(K8S, intent, {"cni": "calico"})

    def everything(spec: dict[str, Any]) -> None:
        for key, side in (("ingress", "from"), ("egress", "to")):
            for rule in spec[key]:
                rule[side] = [{"ipBlock": {"cidr": "0.0.0.0/0"}} if "ipBlock" in p else p for p in rule[side]]

    for name in ("t-web", "t-api"):
        plan = edited(plan, name, everything)
    verdict = verify_plan(intent, K8S, plan)
    assert ("web", "web") in extras(verdict) and ("api", "web") in extras(verdict)


def test_a_private_network_at_both_ends_is_refused_while_pods_may_be_anywhere():
    flows = ("  - {from: web, to: internal, ports: [tcp/443]}\n"
             "  - {from: internal, to: db, ports: [tcp/443]}\n")
    intent = intent_of(flows, networks="  internal: [10.0.0.0/8]\n")
    msgs = [str(p) for p in find_problems(K8S, intent, {})]
    assert len(msgs) == 2 and all("clusterCidrs" in m for m in msgs)
    verdict = verify(intent, K8S, CLUSTER)
    assert verdict.equivalent, verdict.counterexamples


# ------------------------------------------------- the open world

FLOWS = """\
  - {from: web, to: api, ports: [tcp/8080]}
  - {from: api, to: db, ports: [tcp/5432]}
"""
API_FROM_WEB = {"podSelector": {"matchLabels": {"app": "web"}}}
DB_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}},
           "podSelector": {"matchLabels": {"app": "db"}}}


def _widen_ingress_of_api(peer: dict[str, Any]):
    def edit(spec: dict[str, Any]) -> None:
        rule_to(spec, "ingress", "from", lambda p: p == API_FROM_WEB)["from"] = [peer]
    return edit


def _widen_egress_of_api(peer: dict[str, Any]):
    def edit(spec: dict[str, Any]) -> None:
        rule_to(spec, "egress", "to", lambda p: p == DB_PEER)["to"] = [peer]
    return edit


@pytest.mark.parametrize(("edit", "reached"), [
    (_widen_ingress_of_api({"podSelector": {}}), "pods without labels in serving, of no segment"),
    (_widen_egress_of_api({"namespaceSelector": DB_PEER["namespaceSelector"]}),
     "pods without labels in data, of no segment"),
    (_widen_egress_of_api({"namespaceSelector": {}, "podSelector": DB_PEER["podSelector"]}),
     "pods {app=db} in a namespace the spec never names"),
])
def test_widened_selectors_reach_pods_of_no_segment(edit, reached):
    intent = intent_of(FLOWS)
    verdict = verify_plan(intent, K8S, edited(checked_plan(K8S, intent, {}), "t-api", edit))
    assert not verdict.equivalent
    assert any(reached in c.source + c.destination for c in verdict.counterexamples if c.kind == "extra"), \
        verdict.counterexamples


def test_the_dns_peer_widened_to_all_of_kube_system_is_caught():
    intent = intent_of(FLOWS)

    def edit(spec: dict[str, Any]) -> None:
        rule_to(spec, "egress", "to", lambda p: p.get("namespaceSelector") == KUBE_SYSTEM)["to"] = [
            {"namespaceSelector": KUBE_SYSTEM}]

    verdict = verify_plan(intent, K8S, edited(checked_plan(K8S, intent, {}), "t-web", edit))
    assert ("web", "pods without labels in kube-system, of no segment") in extras(verdict)


def test_default_deny_in_kube_system_shows_as_missing_dns():
    """A hand-written plan whose default-deny isolates CoreDNS: every implied DNS
    flow is missing (check refuses to write such a plan)."""
    intent = intent_of(FLOWS)
    plan = checked_plan(K8S, intent, {})
    deny = Resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "deny-kube-system", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-kube-system", "namespace": "kube-system"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    verdict = verify_plan(intent, K8S, dataclasses.replace(plan, resources=(*plan.resources, deny)))
    missing = {(c.source, c.destination.split(" ")[0], c.protocol)
               for c in verdict.counterexamples if c.kind == "missing"}
    assert {(s, "@cluster-dns", p) for s in ("web", "api", "db") for p in ("tcp", "udp")} <= missing


def test_swapped_exports_fail_verify():
    intent = intent_of(FLOWS)
    plan = checked_plan(K8S, intent, {})
    exports = {**plan.exports, "web": plan.exports["api"], "api": plan.exports["web"]}
    verdict = verify_plan(intent, K8S, dataclasses.replace(plan, exports=exports))
    assert not verdict.equivalent
    kinds = {(c.kind, c.source, c.destination) for c in verdict.counterexamples}
    assert ("export", "web", "exports.web.podLabels") in kinds
    assert ("export", "api", "exports.api.networkPolicy") in kinds


# ------------------------------------------------- what the API would reject, dead flows


def test_a_flow_between_families_that_never_meet_is_refused():
    segments = SEGMENTS + ("  v6: {cidr: 'fd00:6::/64'}\n"
                           "  pod4: {kubernetes: {namespace: x}, cidr: 10.244.1.0/24}\n")
    intent = intent_of("  - {from: pod4, to: v6, ports: [tcp/80]}\n", segments)
    msgs = [str(p) for p in find_problems(K8S, intent, CLUSTER)]
    assert len(msgs) == 1 and "flows[0] (pod4 -> v6)" in msgs[0] and "no address family" in msgs[0]


# ------------------------------------------------- assumptions


def test_assumptions_are_printed_with_the_verdict():
    verdict = verify(intent_of(FLOWS + "  - {from: api, to: internet, ports: [any]}\n"), K8S, {})
    assert verdict.equivalent, verdict.counterexamples
    said = " | ".join(verdict.assumptions)
    assert "protocols other than TCP, UDP and SCTP are implementation-defined" in said
    assert "own node" in said
    assert "cni: unknown" in said
    assert "clusterCidrs is not set" in said
    said = " | ".join(verify(intent_of(FLOWS), K8S, {**CLUSTER, "cni": "cilium"}).assumptions)
    assert "never matches pod addresses (cni: cilium)" in said and "10.244.0.0/16" in said


def test_a_flow_allowed_only_if_ipblock_matches_pods_is_unsure_under_an_unknown_cni():
    """A hand-written ipBlock naming db's pod range: Calico lets web in, Cilium does not."""
    segments = SEGMENTS.replace("labels: {app: db}}", "labels: {app: db}}, cidr: 10.244.9.0/24")
    intent = intent_of("  - {from: web, to: db, ports: [tcp/5432]}\n", segments)
    plan = checked_plan(K8S, intent, CLUSTER)

    def by_address(spec: dict[str, Any]) -> None:
        rule_to(spec, "egress", "to", lambda p: p == DB_PEER)["to"] = [{"ipBlock": {"cidr": "10.244.9.0/24"}}]

    plan = edited(plan, "t-web", by_address)
    kinds = {c.kind for c in verify_plan(intent, K8S, plan).counterexamples}
    assert kinds == {"unsure"}
    calico = dataclasses.replace(plan, settings={**plan.settings, "cni": "calico"})
    assert verify_plan(intent, K8S, calico).equivalent
    cilium = dataclasses.replace(plan, settings={**plan.settings, "cni": "cilium"})
    assert {c.kind for c in verify_plan(intent, K8S, cilium).counterexamples} == {"missing"}


# ------------------------------------ a selector narrower than what pods surely carry

def _namespace_label_on(key: str, side: str, namespace: str):
    """Adds `env: prod` to the namespaceSelector of the peer in `namespace`: the namespace
    surely carries its name only, so the peer may match none of its pods."""
    def edit(spec: dict[str, Any]) -> None:
        for rule in spec[key]:
            for peer in rule[side]:
                labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
                if labels.get("kubernetes.io/metadata.name") == namespace:
                    labels["env"] = "prod"
    return edit


@pytest.mark.parametrize(("policy", "edit", "flow"), [
    ("t-api", _namespace_label_on("egress", "to", "data"), ("api", "db", "tcp")),
    ("t-db", _namespace_label_on("ingress", "from", "serving"), ("api", "db", "tcp")),
    ("t-web", _namespace_label_on("egress", "to", "kube-system"), ("web", "@cluster-dns", "udp")),
], ids=["egress-peer", "ingress-peer", "dns-peer"])
@pytest.mark.parametrize("cni", ["unknown", "cilium"])
def test_a_namespace_selector_asking_for_another_label_is_not_equivalent(policy, edit, flow, cni):
    intent = intent_of(FLOWS)
    plan = checked_plan(K8S, intent, {"cni": cni})
    assert verify_plan(intent, K8S, plan).equivalent
    verdict = verify_plan(intent, K8S, edited(plan, policy, edit))
    assert not verdict.equivalent
    found = {(c.kind, c.source, c.destination.split(" ")[0], c.protocol) for c in verdict.counterexamples}
    assert ("unsure", *flow) in found, verdict.counterexamples
    assert {kind for kind, *_ in found} == {"unsure"}
    assert all("carry the labels a selector asks for" in c.explanation for c in verdict.counterexamples)
