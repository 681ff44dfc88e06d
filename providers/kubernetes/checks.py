"""What a NetworkPolicy cannot say, found before anything is built.

Each problem names the spec flow, segment or setting and the fix: ICMP and
other port-less protocols, port 0, peers with neither pods nor addresses,
and segments whose label selectors would select each other's pods.
"""

from __future__ import annotations

import re

from cloudfence import pods
from cloudfence.addresses import AddressSet
from cloudfence.endpoints import METADATA_ADDRESSES
from cloudfence.errors import Problem
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.providers.kubernetes.wire import (
    DNS_LABELS,
    DNS_NAMESPACE,
    PUBLIC_WORD,
    Options,
    selector,
    zero_port_protocols,
)
from cloudfence.space import Space, space_for

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

def check_intent(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    problems: list[Problem] = []
    space = space_for(intent, options)
    for flow in intent.flows:
        if not any(ep.is_segment and ep.name in governed for ep in (flow.src, flow.dst)):
            continue  # between segments outside the cluster: not ours to enforce
        problems += _flow_ports(intent, flow)
        for ep in (flow.src, flow.dst):
            if ep.is_segment and ep.name not in governed and not intent.segment(ep.name).cidrs:
                problems.append(_no_identity(intent, flow, ep))
            elif ep.kind == "network" or ep.name in space.endpoints:
                problems += _network_meets_pods(intent, flow, ep.name, space, options)
    problems += overlapping_selectors(intent, governed)
    problems += _reserved_names(intent, governed, options)
    problems += _cluster_cidrs(intent, governed, options)
    problems += _dns_namespace(intent, governed, options)
    problems += api_names(intent, governed, options)
    problems += _controllers(intent, governed, options)
    problems += _metadata_in_settings(options)
    return problems


def _controllers(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    """An ingress controller whose labels and a segment's may sit on one pod (one set
    holds the other, in one namespace): that pod would be both the segment's and
    `@load-balancer`, and the segment's policy would isolate the controller."""
    problems = []
    for i, controller in enumerate(options.ingress_controllers):
        mine = set(controller.labels.items())
        where = f"settings.ingressControllers.{i}"
        if controller.namespace == DNS_NAMESPACE and (mine <= set(DNS_LABELS.items())
                                                      or set(DNS_LABELS.items()) <= mine):
            problems.append(Problem(where, (
                f"its pods may be the cluster DNS pods ({DNS_NAMESPACE}, k8s-app=kube-dns), which every "
                "pod segment's policy admits as @cluster-dns: name the ingress controller's own pods")))
        for name in sorted(governed):
            k = selector(intent, name)
            if k.namespace != controller.namespace:
                continue
            if set(k.labels) <= mine:  # the controller's pods carry all of the segment's labels
                problems.append(Problem(where, (
                    f"its pods carry every label of segment '{name}' in namespace '{k.namespace}', so "
                    "they are the segment's pods too: give the controller labels that leave out one "
                    "of the segment's, or move one of them")))
            elif mine <= set(k.labels):
                problems.append(Problem(where, (
                    f"the segment '{name}' pods carry every label of the controller in namespace "
                    f"'{k.namespace}', so they are the load balancer too: give the controller a "
                    "label the segment's pods do not carry, or move one of them")))
    return problems


def _metadata_in_settings(options: Options) -> list[Problem]:
    """An endpoint's addresses that hold the instance metadata service would open the
    credentials to every flow to that endpoint: only `@instance-metadata` may."""
    problems = []
    for key, cidrs in (("nodeCidrs", options.node_cidrs),
                       ("objectStorageCidrs", options.object_storage_cidrs)):
        for i, text in enumerate(cidrs):
            held = AddressSet.from_cidrs([text]) & METADATA_ADDRESSES if text != PUBLIC_WORD else None
            if held:
                problems.append(Problem(f"settings.{key}.{i}", (
                    f"{text} holds the instance metadata address {held.cidrs()[0]} (credentials): "
                    "narrow it to leave that out; a flow to @instance-metadata is what opens it")))
    return problems


def _network_meets_pods(intent: Intent, flow: Flow, network: str, space: Space,
                        options: Options) -> list[Problem]:
    """An ipBlock may match pod addresses (Calico's does): it must not reach where pods live."""
    exact = space.network(network)
    if options.cluster_cidrs:
        if exact and not exact - AddressSet.from_cidrs(options.cluster_cidrs):
            return [intent.problem(flow, f"network '{network}' lies inside clusterCidrs: pods are named "
                                   "by segments, not addresses; name those pods as a segment or "
                                   "remove the flow")]
        return []
    if options.cni == "cilium":
        return []  # Cilium's ipBlock never matches pod addresses
    inside = exact & space.hidden
    if not inside:
        return []
    sample = inside.cidrs()[0]
    return [intent.problem(flow, f"network '{network}' overlaps the private ranges where pods may live "
                           f"({sample} ...) and clusterCidrs is not set: under a CNI whose ipBlock matches "
                           f"pod addresses (Calico) pods there would pass as '{network}'; set "
                           "clusterCidrs to the pod and service CIDRs (or cni: cilium), or narrow "
                           f"'{network}' to addresses outside the cluster")]


def _cluster_cidrs(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    """Pod segments' cidrs inside the cluster's ranges, other segments' cidrs outside them."""
    if not options.cluster_cidrs:
        return []
    cluster = AddressSet.from_cidrs(options.cluster_cidrs)
    problems = []
    for name, seg in sorted(intent.segments.items()):
        if not seg.cidrs:
            continue
        where = f"segments.{name}.cidr"
        line = intent.lines.get(where)
        if name in governed and not seg.addresses.issubset(cluster):
            problems.append(Problem(where, f"segment '{name}' is pods, but its cidr is not inside "
                                    "clusterCidrs: add the pod range to clusterCidrs or fix the cidr",
                                    intent.file, line))
        elif name not in governed and seg.addresses & cluster:
            problems.append(Problem(where, f"segment '{name}' is outside the cluster, but its cidr "
                                    "overlaps clusterCidrs, where pods would pass as its members: "
                                    "fix the cidr, or give the segment a kubernetes mapping",
                                    intent.file, line))
    return problems


def _dns_namespace(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    """A default-deny policy in kube-system isolates the cluster DNS pods: no pod could resolve."""
    if not options.default_deny_namespaces:
        return []
    return [_segment_problem(intent, s, f"segment '{s}' is in {DNS_NAMESPACE}, where defaultDenyNamespaces "
                             "would isolate the cluster DNS pods and break name resolution for every "
                             f"pod: move the segment out of {DNS_NAMESPACE} or set "
                             "defaultDenyNamespaces: false")
            for s in sorted(governed) if selector(intent, s).namespace == DNS_NAMESPACE]


def api_names(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    """Policy names and the label values on them as the API server validates them."""
    from cloudfence.providers.kubernetes.compile import default_deny_name, policy_name

    problems = []
    for s in sorted(governed):
        name = policy_name(intent, s)
        if not _DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            problems.append(_segment_problem(intent, s, f"policy name '{name}' is not a valid Kubernetes "
                                             "name (lowercase letters, digits, '-' and '.', at most 253): "
                                             "rename the spec or the segment"))
        if not _LABEL_VALUE.match(s) or len(s) > 63:
            problems.append(_segment_problem(intent, s, f"segment name '{s}' is not a valid label value "
                                             "(at most 63 letters, digits, '-', '_' or '.'): rename it"))
    if not _LABEL_VALUE.match(intent.name) or len(intent.name) > 63:
        problems.append(Problem("name", f"spec name '{intent.name}' is not a valid label value "
                                "(at most 63 characters): shorten it", intent.file, intent.lines.get("name")))
    if options.default_deny_namespaces:
        for ns in sorted({selector(intent, s).namespace for s in governed}):
            name = default_deny_name(intent, ns)
            if not _DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
                problems.append(Problem("settings.defaultDenyNamespaces", f"policy name '{name}' is not a "
                                        "valid Kubernetes name: shorten the spec name"))
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
    """Segments whose selectors cannot be told apart (cloudfence.pods), and a segment
    whose labels select the cluster DNS pods."""
    problems = pods.overlapping_selectors(intent, governed, "the policy")
    for name in sorted(governed):
        k = selector(intent, name)
        if k and k.namespace == DNS_NAMESPACE and set(k.labels) <= set(DNS_LABELS.items()):
            problems.append(_segment_problem(
                intent, name, f"labels of segment '{name}' select the cluster DNS pods "
                "(k8s-app=kube-dns in kube-system): its policy would isolate DNS for the whole "
                "cluster; choose labels the DNS pods do not carry"))
    return problems


def _reserved_names(intent: Intent, governed: frozenset[str], options: Options) -> list[Problem]:
    if not options.default_deny_namespaces:
        return []
    namespaces = {selector(intent, s).namespace for s in governed}
    return [_segment_problem(intent, s, f"segment name '{s}' clashes with the default-deny policy "
                             f"of namespace '{s.removeprefix('default-deny-')}': rename the segment")
            for s in sorted(governed)
            if s.startswith("default-deny-") and s.removeprefix("default-deny-") in namespaces]


def _segment_problem(intent: Intent, segment: str, message: str) -> Problem:
    where = f"segments.{segment}.kubernetes"
    return Problem(where, message, intent.file, intent.lines.get(where))
