"""What a NetworkPolicy cannot say, found before anything is built.

Each problem names the spec flow, segment or setting and the fix: ICMP and
other port-less protocols, port 0, peers with neither pods nor addresses,
and segments whose label selectors would select each other's pods.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from cloudfence.errors import Problem
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.providers.kubernetes.wire import DNS_LABELS, DNS_NAMESPACE, Options, zero_port_protocols


def check_intent(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    problems: list[Problem] = []
    for flow in intent.flows:
        if not any(ep.is_segment and ep.name in governed for ep in (flow.src, flow.dst)):
            continue  # between segments outside the cluster: not ours to enforce
        problems += _flow_ports(intent, flow)
        for ep in (flow.src, flow.dst):
            if ep.is_segment and ep.name not in governed and not intent.segment(ep.name).cidrs:
                problems.append(_no_identity(intent, flow, ep))
    problems += overlapping_selectors(intent, governed)
    problems += _reserved_names(intent, governed, options)
    return problems


def _flow_ports(intent: Intent, flow: Flow) -> list[Problem]:
    # Port-less protocols (ICMP) are reported by the base capability check.
    return [intent.problem(flow, f"kubernetes cannot express {proto} port 0: a NetworkPolicy port is "
                           f"1-65535; start the range at 1, or write {proto}/0-65535 for every port",
                           "ports")
            for proto in zero_port_protocols(flow.ports)]


def _no_identity(intent: Intent, flow: Flow, ep: Endpoint) -> Problem:
    return intent.problem(flow, f"segment '{ep.name}' has neither a kubernetes mapping nor a cidr, "
                          "so a NetworkPolicy cannot name it: add `kubernetes: {namespace, labels}` "
                          "for pods or `cidr:` for addresses outside the cluster")


def overlapping_selectors(intent: Intent, governed: frozenset[str]) -> list[Problem]:
    """Two segments in one namespace where one's labels are a subset of the
    other's: a policy (or peer) for the first would also select the second's pods."""
    problems = []
    by_namespace: dict[str, list[str]] = defaultdict(list)
    for name in sorted(governed):
        by_namespace[intent.segment(name).kubernetes.namespace].append(name)
    pairs = [pair for names in by_namespace.values() for pair in combinations(names, 2)]
    for a, b in sorted(pairs):
        ka, kb = intent.segment(a).kubernetes, intent.segment(b).kubernetes
        la, lb = set(ka.labels), set(kb.labels)
        if not (la <= lb or lb <= la):
            continue
        wide, narrow = (a, b) if la <= lb else (b, a)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(dict(intent.segment(wide).kubernetes.labels).items()))
        problems.append(_segment_problem(
            intent, wide,
            f"labels {{{shown}}} of segment '{wide}' also select the pods of segment '{narrow}' "
            f"in namespace '{ka.namespace}', so the policy of '{wide}' would apply to them too: "
            f"give '{wide}' a label that '{narrow}' pods do not carry (e.g. "
            f"cloudfence.io/segment: {wide})"))
    for name in sorted(governed):
        k = intent.segment(name).kubernetes
        if k and k.namespace == DNS_NAMESPACE and set(k.labels) <= set(DNS_LABELS.items()):
            problems.append(_segment_problem(
                intent, name, f"labels of segment '{name}' select the cluster DNS pods "
                "(k8s-app=kube-dns in kube-system): its policy would isolate DNS for the whole "
                "cluster; choose labels the DNS pods do not carry"))
    return problems


def _reserved_names(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    if not options.default_deny_namespaces:
        return []
    namespaces = {intent.segment(s).kubernetes.namespace for s in governed}
    return [_segment_problem(intent, s, f"segment name '{s}' clashes with the default-deny policy "
                             f"of namespace '{s.removeprefix('default-deny-')}': rename the segment")
            for s in sorted(governed)
            if s.startswith("default-deny-") and s.removeprefix("default-deny-") in namespaces]


def _segment_problem(intent: Intent, segment: str, message: str) -> Problem:
    where = f"segments.{segment}.kubernetes"
    return Problem(where, message, intent.file, intent.lines.get(where))
