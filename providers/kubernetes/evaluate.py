"""NetworkPolicy records -> reachability, with the semantics of the
Kubernetes API docs (networking.k8s.io/v1), reading only the plan.

The intent says which pods exist: each segment with a kubernetes mapping is
the pods of its namespace that carry exactly its labels, and the cluster DNS
is the `k8s-app=kube-dns` pods of kube-system. Pods that no segment describes
are not part of the world, so selectors matching only them allow nothing.

- A policy selects a pod when the namespaces are equal and its podSelector
  matches the pod's labels (absent podSelector = empty = every pod).
- A pod is isolated for a direction only when some selecting policy lists
  that direction in policyTypes (defaulting: Ingress always, Egress when the
  policy has egress rules). Not isolated = unrestricted.
- Policies and rules are additive; peers in one rule are OR'ed; in one peer,
  namespaceSelector AND podSelector. podSelector alone means the policy's own
  namespace; namespaceSelector alone means every pod of matching namespaces.
  Namespaces carry `kubernetes.io/metadata.name: <name>`.
- ipBlock is its cidr minus `except`. No `from`/`to` (or an empty list) means
  every peer; no `ports` means every protocol and port. A port entry without
  protocol is TCP, without port is every port, with endPort is a range.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.plan import Plan
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.kubernetes.wire import (
    CLUSTER_DNS,
    DNS_LABELS,
    DNS_NAMESPACE,
    NAMESPACE_NAME_LABEL,
    POLICY_TYPE,
)
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

DIRECTIONS = {"Ingress": (INGRESS, "ingress", "from"), "Egress": (EGRESS, "egress", "to")}


@dataclass(frozen=True)
class Pods:
    """A set of pods in the world: where they run, their labels, who they are."""

    namespace: str
    labels: Mapping[str, str]
    segment: str | None = None  # None: the cluster DNS pods

    def as_peer(self) -> Peer:
        if self.segment is None:
            return Peer(platform=frozenset([CLUSTER_DNS]))
        return Peer.segment(self.segment)


def world_pods(intent: Intent) -> list[Pods]:
    pods = [Pods(s.kubernetes.namespace, s.kubernetes.match_labels, s.name)
            for s in intent.segments.values() if s.kubernetes is not None]
    return [*pods, Pods(DNS_NAMESPACE, DNS_LABELS)]


class PodIndex:
    """The world's pods by namespace and by label, so that selecting costs what
    the selector can match, not every pod of the cluster."""

    def __init__(self, pods: list[Pods]):
        self.by_ns: dict[str, list[Pods]] = defaultdict(list)
        self.by_label: dict[tuple[str, str, str], list[Pods]] = defaultdict(list)
        for p in pods:
            self.by_ns[p.namespace].append(p)
            for k, v in p.labels.items():
                self.by_label[(p.namespace, k, v)].append(p)

    def namespaces(self, selector: Mapping[str, Any]) -> list[str]:
        return [ns for ns in self.by_ns if selector_matches(selector, {NAMESPACE_NAME_LABEL: ns})]

    def select(self, namespace: str, selector: Mapping[str, Any] | None) -> list[Pods]:
        """Pods of one namespace matching a pod selector (None or {}: all of them)."""
        match = (selector or {}).get("matchLabels") or {}
        if match:
            k, v = next(iter(match.items()))
            candidates = self.by_label.get((namespace, k, v), [])
        else:
            candidates = self.by_ns.get(namespace, [])
        return [p for p in candidates if selector_matches(selector, p.labels)]


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels AND every matchExpression; empty matches all."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op)
        if ok is None:
            raise ValueError(f"unknown label selector operator {op!r}")
        if not ok:
            return False
    return True


def peer_of(peer: Mapping[str, Any], policy_namespace: str, pods: PodIndex) -> Peer:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        addresses = AddressSet.from_cidrs([block["cidr"]]) - AddressSet.from_cidrs(block.get("except") or [])
        return Peer(addresses=addresses)
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and pod_sel is None:
        raise ValueError("a NetworkPolicy peer needs podSelector, namespaceSelector or ipBlock")
    namespaces = pods.namespaces(ns_sel) if ns_sel is not None else [policy_namespace]
    matched = [p for ns in namespaces for p in pods.select(ns, pod_sel)]
    return Peer(segments=frozenset(p.segment for p in matched if p.segment is not None),
                platform=frozenset(CLUSTER_DNS for p in matched if p.segment is None))


def ports_of(rule: Mapping[str, Any]) -> PortSet:
    entries = rule.get("ports")
    if not entries:
        return PortSet.any()
    out = PortSet()
    for entry in entries:
        proto = str(entry.get("protocol", "TCP")).lower()
        port, end = entry.get("port"), entry.get("endPort")
        if port is None or (isinstance(port, str) and not port.isdigit()):
            # No port: every port. A named port resolves per pod, which the
            # plan cannot tell; count it as every port so nothing is hidden.
            ivs = FULL
        else:
            ivs = IntervalSet.of(int(port), int(end) if end is not None else int(port))
        out = out | PortSet({proto: ivs})
    return out


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """API defaulting when policyTypes is absent: Ingress, plus Egress when egress rules exist."""
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str], target: str) -> Reachability:
    reach = Reachability(target=target, governed=governed)
    pods = PodIndex(world_pods(intent))
    peers: dict[tuple[str, str], Peer] = {}  # the same peer recurs across policies

    def resolve(peer: Mapping[str, Any], namespace: str) -> Peer:
        key = (json.dumps(peer, sort_keys=True), namespace)
        if key not in peers:
            peers[key] = peer_of(peer, namespace, pods)
        return peers[key]

    isolated: set[tuple[str, str]] = set()
    for record in plan.by_type(POLICY_TYPE):
        metadata = record.inputs.get("metadata") or {}
        spec = record.inputs.get("spec") or {}
        namespace = metadata.get("namespace") or "default"
        selected = [p.segment for p in pods.select(namespace, spec.get("podSelector"))
                    if p.segment in governed]
        for kind in policy_types(spec):
            direction, rules_key, peers_key = DIRECTIONS[kind]
            for segment in selected:
                isolated.add((segment, direction))
            for rule in spec.get(rules_key) or []:
                ports = ports_of(rule)
                allowed = ([resolve(p, namespace) for p in rule[peers_key]]
                           if rule.get(peers_key) else [Peer.all()])
                for segment in selected:
                    for peer in allowed:
                        reach.allow(segment, direction, peer, ports)
    for segment in sorted(governed):
        for direction in (INGRESS, EGRESS):
            if (segment, direction) not in isolated:
                reach.allow(segment, direction, Peer.all(), PortSet.any())
    return reach
