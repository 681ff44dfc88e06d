"""Property tests over random specs: check refuses exactly what a NetworkPolicy
cannot say; otherwise the compiled plan verifies equivalent, is deterministic,
passes the official schema, and each kind of plan mutation is caught.

The "is this mutation observable" conditions are computed here from the spec
and the raw records, not with the provider's own code.
"""

from __future__ import annotations

import copy
import ipaddress
import os
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from cloudfence.errors import CheckError
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.plan import Plan, Resource
from cloudfence.ports import PORTED, PortSet
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes.manifests import manifests
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify_plan
from tests.strategies import intent_from, specs, to_text

K8S = KubernetesProvider()
SCHEMA = kubernetes_validate.latest_version()
# K8S_EXAMPLES=1000 for a deep run; the default keeps the file under ~15 s.
EXAMPLES = int(os.environ.get("K8S_EXAMPLES", "60"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KUBE_DNS_NS = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}

SUPPORTED = specs(k8s_share=0.7, bare_share=0.0, full_range=True, platform=("@cluster-dns",))
SETTINGS = st.fixed_dictionaries({}, optional={"dns": st.booleans(),
                                               "defaultDenyNamespaces": st.booleans()})


def unsupported(intent: Intent) -> list[str]:
    """What a NetworkPolicy cannot say, found directly from the spec."""
    governed = {n for n, s in intent.segments.items() if s.kubernetes}
    out = []
    for f in intent.flows:
        if not any(ep.is_segment and ep.name in governed for ep in (f.src, f.dst)):
            continue
        protos = set(f.ports)
        if not f.ports.is_any() and protos & {"icmp", "icmpv6", "other"}:
            out.append(f"{f.where}: protocol")
        for p in PORTED:
            ivs = f.ports.get(p)
            if not f.ports.is_any() and ivs and ivs.first() == 0 and ivs != IntervalSet.of(0, 65535):
                out.append(f"{f.where}: port 0")
        for ep in (f.src, f.dst):
            seg = intent.segments.get(ep.name) if ep.is_segment else None
            if seg is not None and not seg.kubernetes and not seg.cidrs:
                out.append(f"{f.where}: {ep.name}")
    return out


def wire_ports(rule: dict[str, Any]) -> PortSet:
    """A rule's ports, read directly from the wire form."""
    if not rule.get("ports"):
        return PortSet.any()
    out = PortSet()
    for e in rule["ports"]:
        lo = e.get("port", 0)
        hi = e.get("endPort", lo if "port" in e else 65535)
        out = out | PortSet({e.get("protocol", "TCP").lower(): IntervalSet.of(lo, hi)})
    return out


def families(intent: Intent, segment: str) -> set[int] | None:
    """Address families a segment's members hold; None: no addresses (any)."""
    cidrs = intent.segments[segment].cidrs
    return {c.version for c in cidrs} if cidrs else None


def peer_families(intent: Intent, peer: dict[str, Any], namespace: str) -> set[int] | None:
    """Families of what a compiled peer names (None: an opaque endpoint)."""
    if "ipBlock" in peer:
        return {ipaddress.ip_network(peer["ipBlock"]["cidr"]).version}
    if peer.get("namespaceSelector") == KUBE_DNS_NS:
        return None
    ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get(
        "kubernetes.io/metadata.name", namespace)
    labels = peer["podSelector"].get("matchLabels", {})
    [name] = [n for n, s in intent.segments.items()
              if s.kubernetes and s.kubernetes.namespace == ns and s.kubernetes.match_labels == labels]
    return families(intent, name)


def can_connect(a: set[int] | None, b: set[int] | None) -> bool:
    """IPv4 and IPv6 addresses never talk to each other; opaque ends talk to both."""
    return a is None or b is None or bool(a & b)


def with_inputs(plan: Plan, name: str, inputs: dict[str, Any] | None) -> Plan:
    """The plan with one record's inputs replaced (None: the record removed)."""
    resources = tuple(r if r.name != name else Resource(r.type, r.name, inputs)
                      for r in plan.resources if r.name != name or inputs is not None)
    return Plan(plan.spec, plan.provider, resources, plan.implied, plan.exports)


def segment_policies(plan: Plan) -> list[Resource]:
    return [r for r in plan if "cloudfence.io/segment" in r.inputs["metadata"]["labels"]]


def supported_plan(spec: dict[str, Any]) -> tuple[Intent, Plan]:
    note(to_text(spec))
    intent = intent_from(to_text(spec))
    assume(any(s.kubernetes for s in intent.segments.values()))
    return intent, checked_plan(K8S, intent, {})


# ------------------------------------------------------------ equivalence


@FAST
@given(specs(allow_icmp=True, full_range=True, bare_share=0.15, platform=("@cluster-dns",)), SETTINGS)
def test_check_names_what_is_unsupported_or_the_plan_is_equivalent(spec, options):
    note(to_text(spec))
    intent = intent_from(to_text(spec))
    expected = unsupported(intent)
    problems = find_problems(K8S, intent, options)
    if expected:
        assert problems, f"check missed: {expected}"
        assert all(p.where.startswith("flows[") for p in problems), problems
        with pytest.raises(CheckError):
            checked_plan(K8S, intent, options)
        return
    assert problems == []
    plan = checked_plan(K8S, intent, options)
    verdict = verify_plan(intent, K8S, plan)
    assert verdict.equivalent, verdict.counterexamples
    assert plan.dumps() == checked_plan(K8S, intent_from(to_text(spec)), options).dumps()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUPPORTED, SETTINGS)
def test_every_generated_policy_passes_the_official_schema(spec, options):
    intent = intent_from(to_text(spec))
    plan = checked_plan(K8S, intent, options)
    for record in plan:
        kubernetes_validate.validate(record.inputs, SCHEMA, strict=True)
        for rule in record.inputs["spec"].get("ingress", []) + record.inputs["spec"].get("egress", []):
            for e in rule.get("ports", []):
                assert 1 <= e.get("port", 1) <= e.get("endPort", e.get("port", 1)) <= 65535
    assert len(manifests(plan)) == len(plan.resources)


# ------------------------------------------------------------ mutations


@FAST
@given(SUPPORTED, st.data())
def test_a_dropped_rule_is_caught(spec, data):
    intent, plan = supported_plan(spec)
    candidates = []
    for r in segment_policies(plan):
        for key in ("ingress", "egress"):
            rules = r.inputs["spec"][key]
            for i, rule in enumerate(rules):
                others = PortSet()
                for j, other in enumerate(rules):
                    if j != i:
                        others = others | wire_ports(other)
                owner = families(intent, r.inputs["metadata"]["labels"]["cloudfence.io/segment"])
                ns = r.inputs["metadata"]["namespace"]
                reachable = any(can_connect(owner, peer_families(intent, p, ns))
                                for p in rule["from" if key == "ingress" else "to"])
                if reachable and not (wire_ports(rule) & others):
                    candidates.append((r, key, i))
    assume(candidates)
    record, key, i = data.draw(st.sampled_from(candidates))
    inputs = copy.deepcopy(record.inputs)
    del inputs["spec"][key][i]
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, inputs))
    assert not verdict.equivalent
    assert {c.kind for c in verdict.counterexamples} == {"missing"}


@FAST
@given(SUPPORTED, st.data())
def test_a_widened_port_from_an_address_peer_is_caught(spec, data):
    intent, plan = supported_plan(spec)
    candidates = []
    for r in segment_policies(plan):
        rules = r.inputs["spec"]["ingress"]
        allowed = PortSet()
        for rule in rules:
            allowed = allowed | wire_ports(rule)
        for i, rule in enumerate(rules):
            owner = families(intent, r.inputs["metadata"]["labels"]["cloudfence.io/segment"])
            if not any("ipBlock" in p and can_connect(owner, peer_families(intent, p, ""))
                       for p in rule["from"]):
                continue
            for j, e in enumerate(rule.get("ports", [])):
                if "port" not in e:
                    continue
                lo, hi = e["port"], e.get("endPort", e["port"])
                new = hi + 1 if hi < 65535 else lo - 1
                if not (PortSet({e["protocol"].lower(): IntervalSet.of(new)}) & allowed):
                    candidates.append((r, i, j, new))
    assume(candidates)
    record, i, j, new = data.draw(st.sampled_from(candidates))
    inputs = copy.deepcopy(record.inputs)
    entry = inputs["spec"]["ingress"][i]["ports"][j]
    lo, hi = entry["port"], entry.get("endPort", entry["port"])
    entry["port"], entry["endPort"] = min(lo, new), max(hi, new)
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, inputs))
    assert not verdict.equivalent
    assert any(c.kind == "extra" and c.port == new for c in verdict.counterexamples)


def with_sinks(spec: dict[str, Any]) -> dict[str, Any]:
    """Add, per namespace, a pod segment that talks to anything on any port:
    a selector that widens to the whole namespace then reaches it."""
    spec = copy.deepcopy(spec)
    for ns in ("serving", "data", "ml-ops"):
        spec["segments"][f"catch-all-{ns}"] = {"kubernetes": {"namespace": ns, "labels": {"catch": "all"}}}
        spec["flows"].append({"from": "internet", "to": f"catch-all-{ns}", "ports": "any"})
        spec["flows"].append({"from": f"catch-all-{ns}", "to": "internet", "ports": "any"})
    return spec


@FAST
@given(SUPPORTED, st.data())
def test_a_lost_pod_selector_is_caught(spec, data):
    intent, plan = supported_plan(with_sinks(spec))
    candidates = []
    for r in segment_policies(plan):
        owner = r.inputs["metadata"]["labels"]["cloudfence.io/segment"]
        if owner.startswith("catch-all-"):
            continue
        for key, side in (("ingress", "from"), ("egress", "to")):
            # Intended traffic between owner and the internet (which holds the
            # catch-all pods) on these ports would hide the widening.
            internet = PortSet()
            for f in intent.flows:
                ends = (f.src.name, f.dst.name)
                if ends == (("internet", owner) if key == "ingress" else (owner, "internet")):
                    internet = internet | f.ports
            for i, rule in enumerate(r.inputs["spec"][key]):
                if wire_ports(rule) & internet:
                    continue
                for j, peer in enumerate(rule[side]):
                    if peer.get("podSelector") and peer.get("namespaceSelector") != KUBE_DNS_NS:
                        candidates.append((r, key, side, i, j))
    assume(candidates)
    record, key, side, i, j = data.draw(st.sampled_from(candidates))
    inputs = copy.deepcopy(record.inputs)
    peer = inputs["spec"][key][i][side][j]
    if "namespaceSelector" in peer:
        del peer["podSelector"]  # namespaceSelector alone: the whole namespace
    else:
        peer["podSelector"] = {}  # every pod of the policy's namespace
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, inputs))
    assert not verdict.equivalent
    assert any(c.kind == "extra" and "catch-all-" in (c.source + c.destination)
               for c in verdict.counterexamples)


@FAST
@given(SUPPORTED, st.data())
def test_a_dropped_policy_is_caught(spec, data):
    intent, plan = supported_plan(spec)
    open_both_ways = {f.src.name for f in intent.flows if f.dst.name == "internet" and f.ports.is_any()} & \
                     {f.dst.name for f in intent.flows if f.src.name == "internet" and f.ports.is_any()}
    candidates = [r for r in segment_policies(plan)
                  if r.inputs["metadata"]["labels"]["cloudfence.io/segment"] not in open_both_ways]
    assume(candidates)
    record = data.draw(st.sampled_from(candidates))
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, None))
    assert not verdict.equivalent
    assert any(c.kind == "extra" for c in verdict.counterexamples)
