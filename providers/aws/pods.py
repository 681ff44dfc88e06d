"""EKS security groups for pods (settings.securityGroupsForPods).

A pod on EKS carries its node's security groups unless a `SecurityGroupPolicy`
(vpcresources.k8s.aws/v1beta1) selects it: then the VPC resource controller gives
it a branch network interface with exactly the groups of the policies that select
it. So a pod segment's members attach its group only through such a policy, and
compile writes one per pod segment (its namespace, its labels, its groups).

Reading a plan with policies, which groups a segment's pods attach comes from the
policies alone: the union of every policy in the segment's namespace whose
`matchLabels` the segment's labels hold; none: the node's groups, which the plan
does not hold (read as allowing everything). Pods carry their segment's labels and
maybe more, never so many that they join another segment; a policy that selects
some of a segment's pods only (it needs labels the segment does not give) is
refused, since which groups those pods carry would rest on labels the spec does not
know. A policy that selects pods of no segment makes them an end of their own that
carries its groups: whatever admits those groups admits them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.errors import Problem
from cloudfence.intent import Intent, KubernetesSelector
from cloudfence.names import MANAGED_BY, SEGMENT_LABEL, SPEC_LABEL, unique
from cloudfence.plan import REF, Plan, Resource, ref
from cloudfence.pods import overlapping_selectors, pod_segments
from cloudfence.ports import PortSet
from cloudfence.providers.aws.wire import SECURITY_GROUP
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

API_VERSION = "vpcresources.k8s.aws/v1beta1"
KIND = "SecurityGroupPolicy"
POLICY = f"kubernetes:{API_VERSION}:{KIND}"
SETTING = "securityGroupsForPods"
READ = frozenset({"apiVersion", "kind", "metadata", "spec"})
OUTSIDE = "?"  # a group id outside the plan: its rules are unknown
DEFAULT_NAMESPACE = "default"  # where a namespaced object without one goes

Labels = frozenset[tuple[str, str]]


def check(intent: Intent, enabled: bool) -> list[Problem]:
    if enabled and not pod_segments(intent):
        return [Problem(f"settings.{SETTING}", "no segment has a kubernetes block, so there is no pod "
                        "segment to write a SecurityGroupPolicy for: give the pod segments "
                        "`kubernetes: {namespace, labels}`, or remove the setting")]
    return overlapping_selectors(intent, intent.segments, "the SecurityGroupPolicy") if enabled else []


# ------------------------------------------------------------ writing


def policy_records(intent: Intent, groups: Mapping[str, list[str]], reserved: set[str]) -> list[Resource]:
    """One SecurityGroupPolicy per pod segment: the segment's pods (its namespace and
    labels) attach every group of the segment (its own first, then its extra ones)."""
    spec = intent.name
    pods = pod_segments(intent)
    names = unique([(f"sgp|{seg}", f"{spec}-{seg}-pods") for seg in sorted(pods)], reserved)
    out = []
    for seg, sel in sorted(pods.items()):
        out.append(Resource(POLICY, names[f"sgp|{seg}"], {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": f"{spec}-{seg}", "namespace": sel.namespace,
                         "labels": {**MANAGED_BY, SPEC_LABEL: spec, SEGMENT_LABEL: seg}},
            "spec": {"podSelector": {"matchLabels": sel.match_labels},
                     "securityGroups": {"groupIds": [ref(g) for g in groups[seg]]}},
        }))
    return out


def summary(r: Resource) -> str:
    """One line for the `plan` table: which pods attach which groups."""
    meta, spec = r.inputs.get("metadata") or {}, r.inputs.get("spec") or {}
    labels = ((spec.get("podSelector") or {}).get("matchLabels") or {})
    pods = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "every pod"
    ids = (spec.get("securityGroups") or {}).get("groupIds") or []
    groups = ", ".join(str(REF.sub(lambda m: m.group("name"), str(g))) for g in ids)
    return f"{meta.get('namespace', DEFAULT_NAMESPACE)}: {pods} attach {groups or 'no group'}"


# ------------------------------------------------------------ reading


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    labels: Labels
    groups: tuple[str, ...]  # group records of the plan, or OUTSIDE


def _group(value: Any) -> str:
    m = REF.match(value) if isinstance(value, str) else None
    return m.group("name") if m and m.group("output") == "id" else OUTSIDE


def _read(r: Resource) -> tuple[Policy | None, list[Problem]]:
    where = f"resources.{r.name}"
    spec, meta = r.inputs.get("spec"), r.inputs.get("metadata") or {}
    if r.inputs.get("apiVersion") != API_VERSION or r.inputs.get("kind") != KIND:
        return None, [Problem(where, f"a {POLICY} record must say apiVersion {API_VERSION} and kind "
                              f"{KIND}: regenerate the plan")]
    if not isinstance(spec, dict) or not isinstance(meta, dict):
        return None, [Problem(f"{where}.inputs.spec", "a SecurityGroupPolicy needs a spec: "
                              "regenerate the plan")]
    problems = [Problem(f"{where}.inputs.spec.{k}", "verify reads only podSelector and securityGroups of a "
                        "SecurityGroupPolicy (a serviceAccountSelector selects pods by labels of their "
                        "service accounts, which the spec does not know): select the pods by podSelector")
                for k in sorted(set(spec) - {"podSelector", "securityGroups"})]
    selector, chosen = spec.get("podSelector"), spec.get("securityGroups")
    if not isinstance(selector, dict) or set(selector) - {"matchLabels"}:
        problems.append(Problem(f"{where}.inputs.spec.podSelector", "verify reads a podSelector of "
                                "matchLabels only: write the segment's labels as matchLabels"))
    labels = selector.get("matchLabels") or {} if isinstance(selector, dict) else {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        problems.append(Problem(f"{where}.inputs.spec.podSelector.matchLabels", "expected labels "
                                "(a mapping of strings): regenerate the plan"))
    ids = chosen.get("groupIds") if isinstance(chosen, dict) else None
    if not isinstance(ids, list) or set(chosen or {}) - {"groupIds"}:
        problems.append(Problem(f"{where}.inputs.spec.securityGroups", "expected groupIds, a list of "
                                "security group ids: regenerate the plan"))
    if problems:
        return None, problems
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    return Policy(r.name, str(namespace), frozenset(labels.items()),
                  tuple(_group(v) for v in ids or ())), []


def _consistent(a: Labels, b: Labels) -> bool:
    """Some pod could carry both label sets (no key with two values)."""
    values = dict(a)
    return all(values.get(k, v) == v for k, v in b)


@dataclass
class Attachment:
    """Who attaches which group of the plan, as the policies say."""

    pods: dict[str, KubernetesSelector]
    groups: dict[str, set[str]] = field(default_factory=dict)  # pod segment -> groups its pods attach
    outsiders: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # end -> (label, groups)

    def owners(self, group_segment: Mapping[str, str | None]) -> dict[str, set[str]]:
        """Group -> the ends whose members attach it: a group's own segment unless that is a pod
        segment (whose pods attach only what the policies give them), and whoever the policies give it."""
        out: dict[str, set[str]] = {g: {s} for g, s in group_segment.items() if s and s not in self.pods}
        for end, groups in [*self.groups.items(), *((e, g) for e, (_, g) in self.outsiders.items())]:
            for g in groups:
                out.setdefault(g, set()).add(end)
        return out

    def unfiltered(self) -> list[str]:
        """Pod segments whose pods carry groups outside the plan (their node's, or an id of none)."""
        return sorted(s for s, g in self.groups.items() if not g or OUTSIDE in g)


def _segment_match(p: Policy, seg: str, pods: Mapping[str, KubernetesSelector]) -> str:
    """'all' of the segment's pods, 'some' of them, or 'none'."""
    sel = pods[seg]
    own = frozenset(sel.labels)
    if p.namespace != sel.namespace or not _consistent(p.labels, own):
        return "none"
    if p.labels <= own:
        return "all"
    both = p.labels | own
    joins = any(o != seg and s.namespace == sel.namespace and frozenset(s.labels) <= both
                for o, s in pods.items())
    return "none" if joins else "some"


def attachment(plan: Plan, intent: Intent) -> tuple[Attachment | None, list[Problem]]:
    """What the plan's policies attach; None when the plan writes none and its settings do not
    ask for them (members then attach their segment's groups some other way)."""
    records = plan.by_type(POLICY)
    if not records and not (plan.settings or {}).get(SETTING):
        return None, []
    policies, problems = [], []
    known = {g.name for g in plan.by_type(SECURITY_GROUP)}
    for r in records:
        p, found = _read(r)
        problems += found
        if p is not None:
            policies.append(Policy(p.name, p.namespace, p.labels,
                                   tuple(g if g in known else OUTSIDE for g in p.groups)))
    pods = pod_segments(intent)
    att = Attachment(pods, {s: set() for s in pods})
    for p in policies:
        for seg in pods:
            match = _segment_match(p, seg, pods)
            if match == "all":
                att.groups[seg].update(p.groups)
            elif match == "some":
                problems.append(Problem(f"resources.{p.name}.inputs.spec.podSelector", (
                    f"selects only those pods of segment '{seg}' that also carry "
                    f"{_show(p.labels - frozenset(pods[seg].labels))}: which groups the segment's pods "
                    f"attach would rest on labels the spec does not give; select exactly "
                    f"{_show(frozenset(pods[seg].labels))} in namespace {pods[seg].namespace}")))
        if not any(s.namespace == p.namespace and frozenset(s.labels) <= p.labels for s in pods.values()):
            groups = {g for q in policies if q.namespace == p.namespace and _consistent(q.labels, p.labels)
                      for g in q.groups}
            att.outsiders[f"pods:{p.name}"] = (
                f"pods of no segment in namespace {p.namespace} with {_show(p.labels)} "
                f"(SecurityGroupPolicy {p.name})", groups)
    return att, problems


def _show(labels: Iterable[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels)) + "}"


def apply(att: Attachment, reach: Reachability, region: AddressSet) -> None:
    """Declare the pods of no segment that policies give groups, and open the pod segments
    whose pods carry groups the plan does not hold (their node's): nothing filters them here."""
    open_ends = [s for s in att.unfiltered() if s in reach.governed]
    for end, (label, groups) in sorted(att.outsiders.items()):
        reach.declare(end, region, label)
        if OUTSIDE in groups:
            open_ends.append(end)
    for end in open_ends:
        for direction in (EGRESS, INGRESS):
            reach.allow(end, direction, Peer.all(), PortSet.any())


def group_peer(peer: Peer, inputs: Mapping[str, Any], group_segment: Mapping[str, str | None],
               owners: Mapping[str, set[str]], outsiders: Iterable[str]) -> Peer:
    """A rule referencing a segment's group matches whoever attaches that group."""
    name = _group(inputs.get("referencedSecurityGroupId"))
    if not group_segment.get(name):
        return peer
    ends = owners.get(name, set())
    # Background ends (the load balancer's group, pods of no segment) by name, segments as such.
    others = {e for e in ends if e in outsiders or e.startswith("@")}
    return Peer(segments=frozenset(ends - others), others=frozenset(others))


def assumptions(att: Attachment | None, intent: Intent) -> list[str]:
    pods = sorted(pod_segments(intent))
    if not pods:
        return []
    if att is None:
        return [f"the pods of pod segments ({', '.join(pods)}) attach their segment's groups some other "
                f"way than a SecurityGroupPolicy (settings.{SETTING} writes one per pod segment): "
                "otherwise they carry their node's groups, and every pod on a node is one peer"]
    out = ["pods attach security groups only through the SecurityGroupPolicies of the plan: the Amazon "
           "VPC CNI runs with ENABLE_POD_ENI=true on Nitro-based Linux nodes that support branch network "
           "interfaces (no t family, no Windows, not EKS Auto Mode), so each pod a policy selects gets a "
           "branch interface carrying exactly the groups of the policies that select it",
           "POD_SECURITY_GROUP_ENFORCING_MODE is strict (the default): every packet of such a pod, also to "
           "pods on its own node, is filtered by its branch interface's groups; in standard mode traffic "
           "between pods on one node and traffic the node source-NATs also meets the node's groups, which "
           "the plan does not hold",
           "a pod that no SecurityGroupPolicy selects uses its node's security groups, which the plan does "
           "not hold: verify reads them as allowing everything",
           "a pod segment's pods carry its labels, and never so many that a policy of another segment "
           "selects them too"]
    unfiltered = att.unfiltered()
    if unfiltered:
        out.append(f"no policy of the plan gives {', '.join(unfiltered)} only groups of the plan: "
                   "their pods are read as unfiltered")
    return out
