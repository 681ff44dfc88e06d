"""Intent -> NetworkPolicy records: one policy per pod segment, selecting its
pods for Ingress and Egress, so that only the spec's flows (and cluster DNS)
get through.

Networks are compiled to exactly what they mean on this cluster
(`cloudfence.space`): their addresses less every segment's cidr and less the
cluster's own ranges (pods are named by selectors, never by address), as
ipBlocks whose `except` is always a strict subset of the cidr.

Rules are grouped by port set: flows with the same ports on one side become
one rule whose peers are OR'ed, which is the smallest faithful form. Every
list is sorted, so the same intent and settings give the same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.plan import Plan, Resource, ordered
from cloudfence.ports import PortSet
from cloudfence.providers.kubernetes.wire import (
    API_VERSION,
    CLUSTER_DNS,
    DNS_PORTS,
    KIND,
    MANAGED_BY,
    POLICY_TYPE,
    POLICY_TYPES,
    SEGMENT_LABEL,
    SPEC_LABEL,
    Options,
    dns_peer,
    label_selector,
    pod_peer,
    port_entries,
    selector,
)
from cloudfence.space import Space, space_for

DNS_ENDPOINT = Endpoint("platform", CLUSTER_DNS)


def policy_name(intent: Intent, segment: str) -> str:
    return f"{intent.name}-{segment}"


def default_deny_name(intent: Intent, namespace: str) -> str:
    return f"{intent.name}-default-deny-{namespace}"


def dns_flows(intent: Intent, governed: frozenset[str], options: Options) -> tuple[Flow, ...]:
    """The flows kubernetes adds on purpose: every pod segment may query the cluster DNS."""
    if not options.dns:
        return ()
    return tuple(Flow(Endpoint("segment", s), DNS_ENDPOINT, DNS_PORTS) for s in sorted(governed))


def compile_plan(intent: Intent, governed: frozenset[str], options: Options,
                 provider: str) -> Plan:
    implied = dns_flows(intent, governed, options)
    ingress: dict[str, list[tuple[Endpoint, PortSet]]] = defaultdict(list)
    egress: dict[str, list[tuple[Endpoint, PortSet]]] = defaultdict(list)
    for f in (*intent.flows, *implied):
        if f.dst.is_segment:
            ingress[f.dst.name].append((f.src, f.ports))
        if f.src.is_segment:
            egress[f.src.name].append((f.dst, f.ports))
    names = Names(intent, space_for(intent, options), options)
    resources = [_segment_policy(names, s, ingress[s], egress[s]) for s in sorted(governed)]
    if options.default_deny_namespaces:
        namespaces = sorted({selector(intent, s).namespace for s in governed})
        resources += [_default_deny(intent, ns) for ns in namespaces]
    exports = {s: {"namespace": selector(intent, s).namespace,
                   "podLabels": selector(intent, s).match_labels,
                   "networkPolicy": policy_name(intent, s)} for s in sorted(governed)}
    return Plan(spec=intent.name, provider=provider, resources=ordered(resources),
                implied=implied, exports=exports)


def _metadata(intent: Intent, name: str, namespace: str, segment: str | None) -> dict[str, Any]:
    labels = {**MANAGED_BY, SPEC_LABEL: intent.name}
    if segment is not None:
        labels[SEGMENT_LABEL] = segment
    return {"name": name, "namespace": namespace, "labels": labels}


class Names:
    """How policies name the other end of a flow on this cluster."""

    def __init__(self, intent: Intent, space: Space, options: Options):
        self.intent = intent
        self.space = space
        self.cluster = options.internal_space()
        self.controllers = [c.selector for c in options.ingress_controllers]

    def peers(self, ep: Endpoint, namespace: str) -> list[dict[str, Any]]:
        """How a policy in `namespace` names an endpoint: pods by selectors,
        anything outside the cluster (networks, endpoints resolved to addresses)
        by ipBlock (exclusions as `except`)."""
        intent = self.intent
        if ep.name == CLUSTER_DNS:
            return [dns_peer()]
        if ep.kind == "segment":
            seg = intent.segment(ep.name)
            if seg.kubernetes is not None:
                return [pod_peer(seg.kubernetes, namespace)]
            return [{"ipBlock": {"cidr": str(c)}} for c in seg.cidrs]
        out = []
        if ep.name == LOAD_BALANCER:  # the ingress controller's pods, then the nodes
            out += [pod_peer(c, namespace) for c in self.controllers]
        for block in self.space.blocks(ep.name, also_except=self.cluster):
            ip_block: dict[str, Any] = {"cidr": str(block.cidr)}
            if block.excepts:
                ip_block["except"] = [str(c) for c in block.excepts]
            out.append({"ipBlock": ip_block})
        return out


def _segment_policy(names: Names, segment: str, ingress: list[tuple[Endpoint, PortSet]],
                    egress: list[tuple[Endpoint, PortSet]]) -> Resource:
    """The policy of one pod segment; `ingress`/`egress` are (other end, ports) pairs."""
    intent = names.intent
    k8s = selector(intent, segment)
    name = policy_name(intent, segment)
    inputs = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": _metadata(intent, name, k8s.namespace, segment),
        "spec": {
            "podSelector": label_selector(k8s.match_labels),
            "policyTypes": list(POLICY_TYPES),
            "ingress": _rules(names, k8s.namespace, ingress, "from"),
            "egress": _rules(names, k8s.namespace, egress, "to"),
        },
    }
    return Resource(POLICY_TYPE, name, inputs)


def _default_deny(intent: Intent, namespace: str) -> Resource:
    name = default_deny_name(intent, namespace)
    inputs = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": _metadata(intent, name, namespace, None),
        "spec": {"podSelector": {}, "policyTypes": list(POLICY_TYPES)},
    }
    return Resource(POLICY_TYPE, name, inputs)


def _rules(names: Names, namespace: str, sides: list[tuple[Endpoint, PortSet]],
           peer_key: str) -> list[dict[str, Any]]:
    """One rule per distinct port set, its peers OR'ed; sorted for stable bytes.
    (An endpoint named twice, e.g. DNS both implied and written, is merged first.)
    A rule whose peers would all be empty is left out: an empty peer list
    means every peer."""
    per_endpoint: dict[Endpoint, PortSet] = {}
    for ep, ports in sides:
        per_endpoint[ep] = per_endpoint[ep] | ports if ep in per_endpoint else ports
    by_ports: dict[PortSet, list[Endpoint]] = defaultdict(list)
    for ep, ports in per_endpoint.items():
        by_ports[ports].append(ep)
    rules: list[tuple[str, dict[str, Any]]] = []
    for ports, endpoints in by_ports.items():
        peers = {_key(p): p for ep in endpoints for p in names.peers(ep, namespace)}
        if not peers:
            continue
        keys = sorted(peers)
        rule: dict[str, Any] = {peer_key: [peers[k] for k in keys]}
        # The rule's own `_key`, from its parts' (the peers are encoded once, not again).
        parts = {peer_key: "[" + ", ".join(keys) + "]"}
        entries = port_entries(ports)
        if entries is not None:
            rule["ports"] = entries
            parts["ports"] = _key(entries)
        rules.append(("{" + ", ".join(f'"{k}": {v}' for k, v in sorted(parts.items())) + "}", rule))
    return [rule for _, rule in sorted(rules, key=lambda pair: pair[0])]


_key = json.JSONEncoder(sort_keys=True).encode  # as json.dumps(value, sort_keys=True), built once
