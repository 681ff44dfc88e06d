"""Property tests over random specs: check refuses exactly what a NetworkPolicy
cannot say; otherwise the compiled plan verifies equivalent, is deterministic,
passes the official schema, and each kind of plan mutation is caught.

The "is this mutation observable" conditions are computed here from the spec
and the raw records, not with the provider's own code.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from cloudfence.errors import CheckError
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.plan import Plan, Resource
from cloudfence.ports import PORTED, PortSet
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes.manifests import manifests
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify_plan
from tests.strategies import examples, intent_from, specs, to_text

K8S = KubernetesProvider()
SCHEMA = kubernetes_validate.latest_version()
# More in the deep run (tests/conftest.py, whose profiles also let the properties that
# assume() away plans without a rule of the shape they mutate discard many draws).
FAST = settings(max_examples=examples(20))
KUBE_DNS_NS = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}

SUPPORTED = specs(k8s_share=0.7, bare_share=0.0, full_range=True, platform=("@cluster-dns",))
SETTINGS = st.fixed_dictionaries({}, optional={"dns": st.booleans(),
                                               "defaultDenyNamespaces": st.booleans(),
                                               "cni": st.sampled_from(["calico", "cilium", "unknown"])})
PRIVATE = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                             "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10")]
# Where the generated pods live, besides the cidrs of pod segments: a pod range
# and a service range that no generated cidr touches.
POD_RANGES = ["10.244.0.0/16", "10.96.0.0/12"]


def cluster(intent: Intent) -> dict[str, Any]:
    """clusterCidrs for a generated spec: its pod segments' cidrs and the pod ranges."""
    pods = [str(c) for s in intent.segments.values() if s.kubernetes for c in s.cidrs]
    return {"clusterCidrs": pods + POD_RANGES}


def _addresses(intent: Intent, name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A network's listed addresses less every segment's cidr, as CIDRs."""
    nets = intent.networks[name].cidrs()
    for seg in intent.segments.values():
        for c in seg.cidrs:
            nets = [piece for n in nets for piece in
                    ((n,) if n.version != c.version or not n.overlaps(c) else
                     (() if n.subnet_of(c) else n.address_exclude(c)))]
    return nets


def unsupported(intent: Intent, options: dict[str, Any]) -> list[str]:
    """What a NetworkPolicy cannot say, found directly from the spec."""
    governed = {n for n, s in intent.segments.items() if s.kubernetes}
    out = []
    for f in intent.flows:
        if any(ep.is_segment and ep.name in governed for ep in (f.src, f.dst)):
            out.extend(_unsupported_flow(intent, f, options))
    return out


def _unsupported_flow(intent: Intent, f: Flow, options: dict[str, Any]) -> list[str]:
    """Each reason one flow with a pod segment at one end cannot be a NetworkPolicy."""
    out = []
    if not _families(intent, f.src) & _families(intent, f.dst):
        out.append(f"{f.where}: no common family")
    for ep in (f.src, f.dst):
        if ep.kind == "network" and ep.name != "internet" and not options.get("clusterCidrs") \
                and options.get("cni") != "cilium" \
                and any(n.overlaps(p) for n in _addresses(intent, ep.name) for p in PRIVATE):
            out.append(f"{f.where}: {ep.name} may hold pods")
    out.extend(_unsupported_ports(f))
    for ep in (f.src, f.dst):
        seg = intent.segments.get(ep.name) if ep.is_segment else None
        if seg is not None and not seg.kubernetes and not seg.cidrs:
            out.append(f"{f.where}: {ep.name}")
    return out


def _families(intent: Intent, ep: Endpoint) -> set[int]:
    """Address families an endpoint may hold: a segment without cidrs, or a platform
    endpoint, may be either."""
    if ep.kind == "segment":
        cidrs = intent.segments[ep.name].cidrs
        return {c.version for c in cidrs} if cidrs else {4, 6}
    if ep.kind == "network":
        return {n.version for n in _addresses(intent, ep.name)}
    return {4, 6}


def _unsupported_ports(f: Flow) -> list[str]:
    """Protocols a NetworkPolicy has no port field for, and port 0 (which it cannot
    name) short of the whole range."""
    out = []
    if not f.ports.is_any() and set(f.ports) & {"icmp", "icmpv6", "other"}:
        out.append(f"{f.where}: protocol")
    for p in PORTED:
        ivs = f.ports.get(p)
        if not f.ports.is_any() and ivs and ivs.first() == 0 and ivs != IntervalSet.of(0, 65535):
            out.append(f"{f.where}: port 0")
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
    return dataclasses.replace(plan, resources=resources)


def segment_policies(plan: Plan) -> list[Resource]:
    return [r for r in plan if "cloudfence.io/segment" in r.inputs["metadata"]["labels"]]


def supported_plan(spec: dict[str, Any]) -> tuple[Intent, Plan]:
    note(to_text(spec))
    intent = intent_from(to_text(spec))
    assume(any(s.kubernetes for s in intent.segments.values()))
    assume(not unsupported(intent, cluster(intent)))
    return intent, checked_plan(K8S, intent, cluster(intent))


# ------------------------------------------------------------ equivalence


@FAST
@given(specs(allow_icmp=True, full_range=True, bare_share=0.15, platform=("@cluster-dns",)), SETTINGS,
       st.booleans())
def test_check_names_what_is_unsupported_or_the_plan_is_equivalent(spec, options, known):
    note(to_text(spec))
    intent = intent_from(to_text(spec))
    if known:
        options = {**options, **cluster(intent)}
    expected = unsupported(intent, options)
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


@settings(max_examples=examples(10))
@given(SUPPORTED, SETTINGS)
def test_every_generated_policy_passes_the_official_schema(spec, options):
    """And what the schema does not say but the API server validates: ports
    1-65535, endPort >= port, every `except` strictly inside its cidr."""
    intent = intent_from(to_text(spec))
    assume(not unsupported(intent, cluster(intent)))
    plan = checked_plan(K8S, intent, {**options, **cluster(intent)})
    for record in plan:
        kubernetes_validate.validate(record.inputs, SCHEMA, strict=True)
        for rule in record.inputs["spec"].get("ingress", []) + record.inputs["spec"].get("egress", []):
            for e in rule.get("ports", []):
                assert 1 <= e.get("port", 1) <= e.get("endPort", e.get("port", 1)) <= 65535
            peers = rule.get("from", rule.get("to"))
            assert peers, "an empty peer list would mean every peer"
            for peer in peers:
                if "ipBlock" in peer:
                    cidr = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    for e in peer["ipBlock"].get("except", []):
                        ex = ipaddress.ip_network(e)
                        assert ex.version == cidr.version and ex.subnet_of(cidr) and ex != cidr
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


def _widen_peer(peer: dict[str, Any], how: str) -> dict[str, Any] | None:
    """One selector widening of a pod peer (None: does not apply to this peer)."""
    dns = peer.get("namespaceSelector") == KUBE_DNS_NS
    if how == "drop the podSelector":  # namespaceSelector alone: the whole namespace
        if dns or "namespaceSelector" not in peer:
            return None
        return {"namespaceSelector": peer["namespaceSelector"]}
    if how == "widen to the namespace":  # every pod of the namespace it names
        return None if dns else {**peer, "podSelector": {}}
    if how == "widen to any namespace":  # the same labels in every namespace
        return None if dns else {**peer, "namespaceSelector": {}}
    if how == "widen the DNS peer":  # every pod of kube-system
        return {"namespaceSelector": KUBE_DNS_NS} if dns else None
    raise ValueError(how)


JUDGED = PortSet({p: IntervalSet.of(0, 65535) for p in ("tcp", "udp", "sctp")})
WIDENINGS = ("drop the podSelector", "widen to the namespace", "widen to any namespace", "widen the DNS peer")


@FAST
@given(SUPPORTED, st.sampled_from(WIDENINGS), st.data())
def test_every_selector_widening_is_caught(spec, how, data):
    """Pods of no segment, in the namespace, in other namespaces and in
    namespaces the spec never names, are part of the world: widening any
    selector of any rule reaches one of them, which no flow allows."""
    intent, plan = supported_plan(spec)
    candidates = []
    for r in segment_policies(plan):
        for key, side in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(r.inputs["spec"][key]):
                if not wire_ports(rule) & JUDGED:
                    continue
                for j, peer in enumerate(rule[side]):
                    wider = None if "ipBlock" in peer else _widen_peer(peer, how)
                    if wider is not None:
                        candidates.append((r, key, side, i, j, wider))
    assume(candidates)
    record, key, side, i, j, wider = data.draw(st.sampled_from(candidates))
    inputs = copy.deepcopy(record.inputs)
    inputs["spec"][key][i][side][j] = wider
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, inputs))
    note(str(verdict.counterexamples))
    assert not verdict.equivalent
    assert any(c.kind == "extra" for c in verdict.counterexamples)


@FAST
@given(SUPPORTED, st.data())
def test_swapped_exports_are_caught(spec, data):
    """A workload attaching another segment's export would get that segment's rules."""
    intent, plan = supported_plan(spec)
    names = sorted(plan.exports)
    assume(len(names) >= 2)
    a, b = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    exports = {**plan.exports, a: plan.exports[b], b: plan.exports[a]}
    verdict = verify_plan(intent, K8S, dataclasses.replace(plan, exports=exports))
    assert not verdict.equivalent
    assert {c.source for c in verdict.counterexamples if c.kind == "export"} == {a, b}
    assert verify_plan(intent, K8S, plan).equivalent


@FAST
@given(SUPPORTED, st.data())
def test_a_dropped_policy_is_caught(spec, data):
    intent, plan = supported_plan(spec)
    # Even a segment open to the internet both ways is caught: pods of no
    # segment in its namespace are never internet.
    candidates = segment_policies(plan)
    assume(candidates)
    record = data.draw(st.sampled_from(candidates))
    verdict = verify_plan(intent, K8S, with_inputs(plan, record.name, None))
    assert not verdict.equivalent
    assert any(c.kind == "extra" for c in verdict.counterexamples)
