"""NetworkPolicy records -> reachability, with the semantics of the
Kubernetes API docs (networking.k8s.io/v1), reading only the plan, in an open
world (`world.py`): the segments' pods, pods of no segment in every named
namespace, witness pods of every selector the plan uses, and the cluster DNS
pods, each an end with the rules of the policies that select it.

- A policy isolates pods for a direction when it lists that direction in
  policyTypes (defaulting: Ingress always, Egress when the policy has egress
  rules) and its podSelector covers them (absent = empty = every pod of its
  namespace). Not isolated = unrestricted.
- Policies and rules are additive; peers in one rule are OR'ed; in one peer,
  namespaceSelector AND podSelector. podSelector alone means the policy's own
  namespace; namespaceSelector alone means every pod of matching namespaces.
  Namespaces carry `kubernetes.io/metadata.name: <name>`.
- ipBlock is its cidr minus `except`; whether it reaches pods is the CNI's
  reading (`cni` setting), which the core applies. No `from`/`to` (or an
  empty list) means every peer; no `ports` means every protocol and port. A
  port entry without protocol is TCP, without port is every port, with
  endPort is a range.
- Pods are known by identity (their addresses are ephemeral): a pod segment
  with a cidr is opaque with that cidr as its region, the others and every
  background end live in the pod space (clusterCidrs, else the private ranges),
  and the cluster's own ranges are phantom: no address host holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.memo import PerValue
from cloudfence.plan import Plan
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.kubernetes.wire import DNS_LABELS, DNS_NAMESPACE, POLICY_TYPE, Options
from cloudfence.providers.kubernetes.world import (
    PinIndex,
    Pods,
    PodWorld,
    Policy,
    background_pods,
    controller_pods,
    covers,
    labels_of,
    peer_ends,
    pinned,
    reaches,
    segment_pods,
    selectors_parsed_once,
    show,
)
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability
from cloudfence.space import space_for

JUDGED = frozenset({"tcp", "udp", "sctp"})

DIRECTIONS = {"Ingress": (INGRESS, "ingress", "from"), "Egress": (EGRESS, "egress", "to")}


def peer_of(peer: Mapping[str, Any], policy_namespace: str, world: PodWorld) -> Peer:
    if "ipBlock" in peer:
        if "podSelector" in peer or "namespaceSelector" in peer:
            raise ValueError("a NetworkPolicy peer with ipBlock may have no other selector")
        block = peer["ipBlock"]
        addresses = AddressSet.from_cidrs([block["cidr"]]) - AddressSet.from_cidrs(block.get("except") or [])
        return Peer(addresses=addresses)
    matched = peer_ends(peer, policy_namespace, world)
    surely = {p.end for p in matched if surely_matched(peer, p)}
    # An end the peer may match but need not (a label its pods or its namespace need
    # not carry: the controller's pods, a segment's, a namespace's other labels) may
    # be reached in none of its pods: counted for "nothing extra", never for
    # "nothing missing".
    return Peer(segments=frozenset(p.end for p in matched if not p.background and p.end in surely),
                partly=frozenset(p.end for p in matched if p.end not in surely),
                others=frozenset(p.end for p in matched if p.background and p.end in surely))


def surely_matched(peer: Mapping[str, Any], pods: Pods) -> bool:
    """Whether a selector peer matches every one of these pods, however they and their
    namespace may be labelled beyond what they surely carry (`peer_ends` found that it
    matches some). podSelector alone means the policy's namespace, which it then is."""
    ns_sel = peer.get("namespaceSelector")
    if ns_sel is not None and not covers(ns_sel, pods.ns_labels, pods.ns_exact):
        return False
    return covers(peer.get("podSelector"), pods.labels, pods.exact)


def ports_of(entries: Any) -> PortSet:
    """A rule's `ports` list."""
    if not entries:
        return PortSet.any()
    pairs = []
    for entry in entries:
        proto = str(entry.get("protocol", "TCP")).lower()
        port, end = entry.get("port"), entry.get("endPort")
        if port is None or (isinstance(port, str) and not port.isdigit()):
            # No port: every port. A named port resolves per pod, which the
            # plan cannot tell; count it as every port so nothing is hidden.
            ivs = FULL
        else:
            ivs = IntervalSet.of(int(port), int(end) if end is not None else int(port))
        pairs.append((proto, ivs))
    return PortSet(pairs)  # one set of them all, merged once


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """API defaulting when policyTypes is absent: Ingress, plus Egress when egress rules exist."""
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def read_policies(plan: Plan) -> list[Policy]:
    out = []
    for record in plan.by_type(POLICY_TYPE):
        metadata = record.inputs.get("metadata") or {}
        spec = record.inputs.get("spec") or {}
        out.append(Policy(metadata.get("name") or record.name, metadata.get("namespace") or "default",
                          spec.get("podSelector") or {}, tuple(policy_types(spec)),
                          tuple(spec.get("ingress") or ()), tuple(spec.get("egress") or ())))
    return out


class _Reader:
    """Peers and port lists, each distinct one read once: the same peer recurs across
    policies and a service's ports across rules."""

    def __init__(self, world: PodWorld) -> None:
        self.peer = PerValue(lambda peer, namespace: peer_of(peer, namespace, world))
        self.ports = PerValue(ports_of)


def end_rules(pods: Pods, policies: Mapping[str, PinIndex[Policy]], world: PodWorld,
              reader: _Reader) -> dict[str, list[tuple[Peer, PortSet]]]:
    """What one end's policies allow, per direction (`policies` by namespace, in plan
    order). Covered by a policy listing
    the direction: isolated, and the rules of every policy that may select its
    pods apply; otherwise unrestricted."""
    out: dict[str, list[tuple[Peer, PortSet]]] = {}
    index = policies.get(pods.namespace)
    mine = [] if pods.ns_exact or index is None else index.may_select(pods.labels)
    for kind, (direction, rules_key, peers_key) in DIRECTIONS.items():
        listing = [p for p in mine if kind in p.types]
        if not any(covers(p.pod_selector, pods.labels, pods.exact) for p in listing):
            out[direction] = [(Peer.all(), PortSet.any())]
            continue
        rules: list[tuple[Peer, PortSet]] = []
        for policy in listing:
            if not reaches(policy.pod_selector, pods, world):
                continue
            for rule in getattr(policy, rules_key):
                ports = reader.ports(rule.get("ports"))
                peers = rule.get(peers_key)
                if not peers:
                    rules.append((Peer.all(), ports))
                    continue
                rules += [(reader.peer(p, policy.namespace), ports) for p in peers]
        out[direction] = rules
    return out


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str], target: str,
                  options: Options) -> Reachability:
    with selectors_parsed_once():
        return _evaluate(plan, intent, governed, target, options)


def _evaluate(plan: Plan, intent: Intent, governed: frozenset[str], target: str,
              options: Options) -> Reachability:
    reach = Reachability(target=target, governed=governed)
    policies = read_policies(plan)
    segments = segment_pods(intent, governed)
    controllers = [c.selector for c in options.ingress_controllers]
    background = background_pods(intent, governed, policies, controllers)
    world = PodWorld([*segments, *background])
    cluster = options.internal_space()
    # Where pods of no segment may be: the cluster's ranges (or, unknown, the
    # private ranges) less every segment's cidr, which holds only its members.
    pod_space = space_for(intent, options).hidden
    for pods in background:
        reach.declare(pods.end, pod_space, pods.label)
    balancers = frozenset(p.end for p in controller_pods(controllers))
    if balancers:
        reach.endpoint_members[LOAD_BALANCER] = balancers
    for pods in segments:
        if intent.segment(pods.end).cidrs:
            reach.opaque(pods.end)
        else:
            reach.region(pods.end, pod_space)
    reach.phantom = cluster or AddressSet()
    reach.address_match = options.address_match
    reach.judged_protocols = JUDGED
    reach.assumptions = assumptions(options)

    reader = _Reader(world)
    by_namespace = policies_by_namespace(policies)
    for pods in world:
        for direction, rules in end_rules(pods, by_namespace, world, reader).items():
            for peer, ports in rules:
                reach.allow(pods.end, direction, peer, ports)
    for pods in segments:
        reach.identity(pods.end, identity(pods, by_namespace))
    reach.reading_note = reading_note(options, any(p.partly for p in reader.peer.found.values()))
    return reach


def reading_note(options: Options, narrowed: bool) -> str:
    """What a flow the wide reading alone allows rests on: an ipBlock read as matching
    pods (cni unknown), or pods and namespaces carrying labels a selector asks for
    beyond those they surely carry."""
    parts = []
    if options.cni == "unknown" or not narrowed:
        parts.append("an ipBlock matches pod addresses (Calico's does, Cilium's does not: set cni)")
    if narrowed:
        parts.append("the pods or their namespace carry the labels a selector asks for beyond those they "
                     "surely carry (a segment's or ingress controller's labels, the namespace's name)")
    return "if " + " or ".join(parts)


def policies_by_namespace(policies: list[Policy]) -> dict[str, PinIndex[Policy]]:
    """Each namespace's policies, by the labels they pin, in plan order: an end meets
    only its namespace's, and of those only the ones that may select its pods."""
    out: dict[str, list[Policy]] = {}
    for p in policies:
        out.setdefault(p.namespace, []).append(p)
    return {ns: PinIndex((pinned(p.pod_selector), p) for p in mine) for ns, mine in out.items()}


def identity(pods: Pods, policies: Mapping[str, PinIndex[Policy]]) -> dict[str, Any]:
    """What the records grant a segment: its pods are those of its namespace
    with its labels, and (when one policy alone names them) that policy."""
    out: dict[str, Any] = {"namespace": pods.namespace, "podLabels": dict(pods.labels)}
    index = policies.get(pods.namespace)
    own = [p.name for p in (index.may_select(pods.labels) if index else ()) if p.pod_selector
           and covers(p.pod_selector, pods.labels, pods.exact)]
    if len(own) == 1:
        out["networkPolicy"] = own[0]
    return out


def assumptions(options: Options) -> list[str]:
    reading = {
        "calico": "an ipBlock matches pod addresses (cni: calico)",
        "cilium": "an ipBlock never matches pod addresses (cni: cilium)",
        "unknown": "an ipBlock may match pod addresses or not, depending on the CNI (cni: unknown): "
                   "verify counts it as matching for what is extra and as not matching for what is missing",
    }[options.cni]
    out = ["protocols other than TCP, UDP and SCTP are implementation-defined under a NetworkPolicy "
           "and not judged",
           "traffic from a pod's own node (kubelet probes, hostNetwork pods) is always allowed "
           "and not judged",
           reading,
           f"the cluster DNS pods are the {show(labels_of(DNS_LABELS))} pods of {DNS_NAMESPACE}; namespaces "
           "are known by their kubernetes.io/metadata.name label, other namespace labels may exist",
           "pods are known by namespace and labels, not by address; pods of no segment exist in every "
           "namespace, and in namespaces the spec never names"]
    if options.cluster_cidrs:
        out.append(f"pods and cluster IPs hold only clusterCidrs ({', '.join(options.cluster_cidrs)}), "
                   "and no other host does")
    else:
        out.append("clusterCidrs is not set: pods may be anywhere in the private ranges")
    return out
