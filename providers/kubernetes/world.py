"""The open world a cluster's policies are judged in: which pods exist, and
which of them a label selector picks.

Besides the segments' pods the world holds, per named namespace, a pod of no
segment; witness pods derived from the plan's own selectors (for every policy
and peer selector, a pod it matches that is no segment's pod: in the policy's
namespace, in other named namespaces, in a namespace the spec never names);
and the cluster DNS pods. A selector widened beyond a segment therefore
always reaches some pod the flows do not name.

Pods are known by what they are guaranteed to carry. A segment's pods carry
its labels and maybe more (never so many that they join another segment); a
namespace carries `kubernetes.io/metadata.name` and maybe more. A witness pod
carries exactly the labels chosen for it. So a selector *covers* pods when it
matches every way they may be labelled (that is what isolates them), and
*reaches* them when it matches some way (that is what may let traffic reach
them: the reading for "nothing extra").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.intent import Intent, KubernetesSelector
from cloudfence.memo import PerValue
from cloudfence.providers.kubernetes.wire import (
    CLUSTER_DNS,
    DNS_LABELS,
    DNS_NAMESPACE,
    NAMESPACE_NAME_LABEL,
)
from cloudfence.providers.kubernetes.wire import selector as selector_of

Labels = tuple[tuple[str, str], ...]
T = TypeVar("T")
WITNESS_VALUE = "cloudfence-witness"  # a label value no segment is assumed to use
OTHER_NAMESPACE = "other-namespace"  # a namespace the spec never names
MOST_ALTERNATIVES = 8  # `In` combinations tried per selector


def labels_of(mapping: Mapping[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))


def show(labels: Labels) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in labels) + "}"


@dataclass(frozen=True)
class Pods:
    """Some pods of the world, as one end."""

    end: str  # the segment's name, CLUSTER_DNS, or a background end's name
    namespace: str  # the namespace's name
    labels: Labels  # labels every such pod carries
    exact: bool = False  # True: exactly these labels (a witness), else maybe more
    ns_labels: Labels = ()  # labels its namespace carries (the name label included)
    ns_exact: bool = False  # True: the namespace carries exactly ns_labels
    segment: str | None = None
    label: str = ""

    @property
    def background(self) -> bool:
        return self.segment is None


class PodWorld(list[Pods]):
    """Every end of the world, built once: the open ends (pods that may carry more
    labels) of each namespace are found by name, not by a pass over the world."""

    @cached_property
    def _open(self) -> dict[str, list[Pods]]:
        out: dict[str, list[Pods]] = {}
        for p in self:
            if not p.exact:
                out.setdefault(p.namespace, []).append(p)
        return out

    def open_in(self, namespace: str) -> list[Pods]:
        return self._open.get(namespace, [])

    @cached_property
    def _groups(self) -> dict[tuple[str, Labels, bool], list[tuple[int, Pods]]]:
        """The ends by their namespace as a selector sees it (name, labels, exact), each
        with its place in the world: a peer's namespaceSelector is tested once per group."""
        out: dict[tuple[str, Labels, bool], list[tuple[int, Pods]]] = {}
        for i, p in enumerate(self):
            out.setdefault((p.namespace, p.ns_labels, p.ns_exact), []).append((i, p))
        return out

    def in_namespaces(self, keep: Callable[[str, Labels, bool], bool], pins: Labels = ()) -> list[Pods]:
        """In world order, the ends whose namespace (name, labels, exact) `keep` accepts
        and that a selector pinning `pins` may match (`may_match`): the pins are looked
        up by label, not tested against each end of the namespace."""
        chosen = [self._pinned_in(group, pins) for group in self._groups if keep(*group)]
        if len(chosen) == 1:
            return [p for _, p in chosen[0]]
        return [p for _, p in sorted((ip for pods in chosen for ip in pods), key=lambda ip: ip[0])]

    def _pinned_in(self, group: tuple[str, Labels, bool], pins: Labels) -> list[tuple[int, Pods]]:
        if not pins:
            return self._groups[group]
        key, value = pins[0]
        by_value, lacking = self._by_label(group, key)
        carrying = by_value.get(value)
        found = sorted(carrying + lacking, key=lambda ip: ip[0]) if carrying else lacking
        return [ip for ip in found if may_match(pins[1:], ip[1].labels)] if len(pins) > 1 else found

    @cached_property
    def _label_index(self) -> dict[tuple[tuple[str, Labels, bool], str],
                                   tuple[dict[str, list[tuple[int, Pods]]], list[tuple[int, Pods]]]]:
        return {}

    def _by_label(self, group: tuple[str, Labels, bool], key: str
                  ) -> tuple[dict[str, list[tuple[int, Pods]]], list[tuple[int, Pods]]]:
        """A namespace group's ends by the value they carry at `key`, and those without
        it (a pin on the key may match them too); built once per key a selector pins."""
        cache = self._label_index
        found = cache.get((group, key))
        if found is None:
            by_value: dict[str, list[tuple[int, Pods]]] = {}
            lacking: list[tuple[int, Pods]] = []
            for ip in self._groups[group]:
                have = dict(ip[1].labels)
                if key in have:
                    by_value.setdefault(have[key], []).append(ip)
                else:
                    lacking.append(ip)
            found = cache[(group, key)] = (by_value, lacking)
        return found

    @cached_property
    def _claims(self) -> dict[str, dict[frozenset[tuple[str, str]], set[str]]]:
        """Per namespace, the ends of its open pods by the label set they carry."""
        out: dict[str, dict[frozenset[tuple[str, str]], set[str]]] = {}
        for namespace, pods in self._open.items():
            index = out.setdefault(namespace, {})
            for p in pods:
                index.setdefault(frozenset(p.labels), set()).add(p.end)
        return out

    @cached_property
    def _sizes(self) -> dict[str, list[int]]:
        """Per namespace, the sizes of its open pods' label sets, ascending."""
        return {ns: sorted({len(k) for k in index}) for ns, index in self._claims.items()}

    def claimed(self, namespace: str, labels: Labels, but: str | None) -> bool:
        """Some open pod of the namespace other than `but` carries a subset of
        `labels`, so pods labelled so would be that end's: found by looking up
        the subsets of `labels` rather than by a pass over the namespace."""
        index = self._claims.get(namespace)
        if not index:
            return False
        sizes = [r for r in self._sizes[namespace] if r <= len(labels)]
        if sum(math.comb(len(labels), r) for r in sizes) > len(self.open_in(namespace)):
            have = dict(labels)
            return any(all(have.get(k) == v for k, v in s.labels)
                       for s in self.open_in(namespace) if s.end != but)
        for r in sizes:
            for combo in itertools.combinations(labels, r):
                ends = index.get(frozenset(combo))
                if ends and (len(ends) > 1 or but not in ends):
                    return True
        return False


# ------------------------------------------------------------- selectors


@dataclass
class _Key:
    """What one selector asks of one label key."""

    equal: set[str] = field(default_factory=set)
    within: list[set[str]] = field(default_factory=list)
    not_in: set[str] = field(default_factory=set)
    exists: bool = False
    absent: bool = False

    def allows_absent(self) -> bool:
        return not (self.equal or self.within or self.exists)

    def allows(self, value: str) -> bool:
        return (not self.absent and all(value == v for v in self.equal)
                and all(value in w for w in self.within) and value not in self.not_in)

    def values(self) -> list[str]:
        """Values that satisfy this key (a fresh one when any value would do)."""
        pool = set(self.equal) or (set.intersection(*self.within) if self.within else {WITNESS_VALUE})
        return sorted(v for v in pool if self.allows(v))


_memo: list[dict[int, tuple[Mapping[str, Any], dict[str, _Key]]]] = []  # while evaluating


@contextmanager
def selectors_parsed_once() -> Iterator[None]:
    """Within one evaluation a plan's selectors are read for every end of the world and
    do not change, so each is parsed once: remembered by identity (the memo holds the
    selector, so its id is not reused) and read-only to callers. Outside, none is kept."""
    _memo.append({})
    try:
        yield
    finally:
        _memo.pop()


def _keys(selector: Mapping[str, Any] | None) -> dict[str, _Key]:
    if not selector:
        return {}
    if not _memo:
        return _parse(selector)
    memo = _memo[-1]
    hit = memo.get(id(selector))
    if hit is not None and hit[0] is selector:
        return hit[1]
    keys = _parse(selector)
    memo[id(selector)] = (selector, keys)
    return keys


def _parse(selector: Mapping[str, Any]) -> dict[str, _Key]:
    keys: dict[str, _Key] = {}
    for k, v in (selector.get("matchLabels") or {}).items():
        keys.setdefault(k, _Key()).equal.add(str(v))
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], {str(v) for v in expr.get("values") or []}
        want = keys.setdefault(key, _Key())
        if op == "In":
            want.within.append(values)
        elif op == "NotIn":
            want.not_in |= values
        elif op == "Exists":
            want.exists = True
        elif op == "DoesNotExist":
            want.absent = True
        else:
            raise ValueError(f"unknown label selector operator {op!r}")
    return keys


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against one concrete label set: matchLabels AND every
    matchExpression; empty or absent matches everything."""
    for key, want in _keys(selector).items():
        if key in labels:
            if not want.allows(labels[key]):
                return False
        elif not want.allows_absent():
            return False
    return True


def pinned(selector: Mapping[str, Any] | None) -> Labels:
    return tuple((str(k), str(v)) for k, v in ((selector or {}).get("matchLabels") or {}).items())


def may_match(pinned_labels: Labels, labels: Labels) -> bool:
    """False when the pods carry a key the selector pins (matchLabels) at another
    value: the selector then neither covers, meets nor reaches them. A cheap test
    that spares the full one for most pairs of selector and pods."""
    have = dict(labels)
    return all(have.get(k, v) == v for k, v in pinned_labels)


class PinIndex(Generic[T]):
    """Items (policies) filed by the labels their selector pins (matchLabels), so those
    that may select a label set (`may_match`) are found by lookup, in the items' order,
    rather than by testing each."""

    def __init__(self, items: Iterable[tuple[Labels, T]]) -> None:
        self.groups: dict[tuple[str, ...], dict[tuple[str, ...], list[tuple[int, T]]]] = {}
        for i, (pins, item) in enumerate(items):
            keys, values = tuple(k for k, _ in pins), tuple(v for _, v in pins)
            self.groups.setdefault(keys, {}).setdefault(values, []).append((i, item))

    def may_select(self, labels: Labels) -> list[T]:
        have = dict(labels)
        found: list[tuple[int, T]] = []
        for keys, by_values in self.groups.items():
            carried = [k in have for k in keys]
            if all(carried):
                found += by_values.get(tuple(have[k] for k in keys), ())
            elif not any(carried):
                for items in by_values.values():
                    found += items
            else:
                for values, items in by_values.items():
                    if all(have.get(k, v) == v for k, v in zip(keys, values, strict=True)):
                        found += items
        if len(self.groups) > 1:
            found.sort(key=lambda entry: entry[0])
        return [item for _, item in found]


def covers(selector: Mapping[str, Any] | None, labels: Labels, exact: bool) -> bool:
    """The selector matches every label set that holds `labels` (only `labels` when exact)."""
    known = dict(labels)
    if exact:
        return selector_matches(selector, known)
    for key, want in _keys(selector).items():
        if key not in known:
            return False  # such a pod may lack the key, or carry any value
        if not want.allows(known[key]):
            return False
    return True


def meets(selector: Mapping[str, Any] | None, labels: Labels, exact: bool) -> bool:
    """The selector matches some label set that holds `labels` (only `labels` when exact)."""
    known = dict(labels)
    if exact:
        return selector_matches(selector, known)
    for key, want in _keys(selector).items():
        if key in known:
            if not want.allows(known[key]):
                return False
        elif not (want.allows_absent() or want.values()):
            return False
    return True


def witness_labels(selector: Mapping[str, Any] | None,
                   fixed: Mapping[str, str] | None = None) -> list[Labels]:
    """Smallest label sets the selector matches (a few `In` alternatives), with
    `fixed` labels kept: the pods least likely to belong to a segment."""
    fixed = dict(fixed or {})
    choices: list[list[tuple[str, str] | None]] = []
    for key, want in sorted(_keys(selector).items()):
        if key in fixed:
            if not want.allows(fixed[key]):
                return []
            continue
        if want.allows_absent():
            continue
        values = want.values()
        if not values:
            return []
        choices.append([(key, v) for v in values])
    out = []
    for combo in itertools.islice(itertools.product(*choices), MOST_ALTERNATIVES):
        out.append(labels_of({**fixed, **dict(p for p in combo if p is not None)}))
    return out


# ------------------------------------------------------------- the world


@dataclass(frozen=True)
class Policy:
    """One NetworkPolicy record, as read."""

    name: str
    namespace: str
    pod_selector: Mapping[str, Any]
    types: tuple[str, ...]
    ingress: tuple[Mapping[str, Any], ...]
    egress: tuple[Mapping[str, Any], ...]

    @cached_property
    def _pinned(self) -> Labels:
        return pinned(self.pod_selector)

    def may_select(self, labels: Labels) -> bool:
        return may_match(self._pinned, labels)

    def peers(self) -> Iterable[Mapping[str, Any]]:
        for rule in self.ingress:
            yield from rule.get("from") or ()
        for rule in self.egress:
            yield from rule.get("to") or ()


def segment_pods(intent: Intent, governed: Iterable[str]) -> list[Pods]:
    out = []
    for name in sorted(governed):
        k8s = selector_of(intent, name)
        out.append(Pods(name, k8s.namespace, labels_of(k8s.match_labels),
                        ns_labels=((NAMESPACE_NAME_LABEL, k8s.namespace),), segment=name, label=name))
    return out


def dns_pods() -> Pods:
    return Pods(CLUSTER_DNS, DNS_NAMESPACE, labels_of(DNS_LABELS),
                ns_labels=((NAMESPACE_NAME_LABEL, DNS_NAMESPACE),),
                label=f"{CLUSTER_DNS} (pods {show(labels_of(DNS_LABELS))} in {DNS_NAMESPACE})")


def controller_pods(controllers: Iterable[KubernetesSelector]) -> list[Pods]:
    """The ingress controller's pods, which `@load-balancer` is: pods that carry the
    controller's labels (maybe more) in its namespace, one end per controller."""
    out = []
    for c in controllers:
        labels = labels_of(c.match_labels)
        out.append(Pods(f"{LOAD_BALANCER}/{c.namespace}/{show(labels)}", c.namespace, labels,
                        ns_labels=((NAMESPACE_NAME_LABEL, c.namespace),),
                        label=f"{LOAD_BALANCER} (ingress controller pods {show(labels)} in {c.namespace})"))
    return out


def named_namespaces(segments: list[Pods], policies: list[Policy]) -> list[str]:
    """Every namespace the spec or the plan names: of segments, of policies,
    of namespaceSelectors pinned to names, and kube-system."""
    names = {p.namespace for p in segments} | {DNS_NAMESPACE} | {p.namespace for p in policies}
    for policy in policies:
        for peer in policy.peers():
            want = _keys(peer.get("namespaceSelector")).get(NAMESPACE_NAME_LABEL)
            if want is not None:
                names |= want.equal
                for w in want.within:
                    names |= w
    return sorted(names)


def name_pins(selector: Mapping[str, Any] | None) -> set[str] | None:
    """The namespace names a namespaceSelector's matchLabels allows (None: any name): a
    namespace of another name it never meets, so most are skipped before `meets`."""
    want = _keys(selector).get(NAMESPACE_NAME_LABEL)
    return want.equal if want is not None and want.equal else None


def _named_in(pins: set[str] | None, labels: Labels) -> bool:
    """Whether a namespace carrying `labels` may be one `pins` allows."""
    if pins is None:
        return True
    name = dict(labels).get(NAMESPACE_NAME_LABEL)
    return name is None or name in pins


def _namespaces_for(peer: Mapping[str, Any], policy: Policy,
                    named: list[str]) -> list[tuple[str, Labels, bool]]:
    """(name, labels, exact) of the namespaces a peer may pick: named ones it
    meets, and one the spec never names where the selector allows one."""
    if "namespaceSelector" not in peer:
        return [(policy.namespace, ((NAMESPACE_NAME_LABEL, policy.namespace),), False)]
    selector = peer["namespaceSelector"]
    pins = name_pins(selector)
    out: list[tuple[str, tuple[tuple[str, str], ...], bool]] = [
        (n, ((NAMESPACE_NAME_LABEL, n),), False) for n in named
           if (pins is None or n in pins) and meets(selector, ((NAMESPACE_NAME_LABEL, n),), False)]
    fresh = next(f"{OTHER_NAMESPACE}-{i}" if i else OTHER_NAMESPACE for i in itertools.count()
                 if (f"{OTHER_NAMESPACE}-{i}" if i else OTHER_NAMESPACE) not in named)
    want = _keys(selector).get(NAMESPACE_NAME_LABEL)
    if want is None or want.allows(fresh):
        for labels in witness_labels(selector, {NAMESPACE_NAME_LABEL: fresh})[:1]:
            out.append((fresh, labels, True))
    return out


def _owned(namespace: str, labels: Labels, segments: PodWorld) -> bool:
    """A concrete pod with these labels belongs to a segment (or the cluster DNS)."""
    if segments.claimed(namespace, labels, None):
        return True
    have = dict(labels)
    return namespace == DNS_NAMESPACE and all(have.get(k) == v for k, v in DNS_LABELS.items())


def _witnesses(selector: Mapping[str, Any] | None) -> tuple[Labels, ...]:
    return tuple(witness_labels(selector))


def background_pods(intent: Intent, governed: Iterable[str], policies: list[Policy],
                    controllers: Iterable[KubernetesSelector] = ()) -> list[Pods]:
    """The cluster DNS pods and the ingress controller's pods, then the pods of no
    segment: one bare pod per named namespace and the witnesses of every policy and
    peer selector (a witness the controller's labels claim is the controller's)."""
    segments = segment_pods(intent, governed)
    balancers = controller_pods(controllers)
    named = named_namespaces([*segments, *balancers], policies)
    candidates: list[tuple[str, Labels, Labels, bool]] = []  # namespace, ns labels, labels, ns exact
    for ns in named:
        candidates.append((ns, ((NAMESPACE_NAME_LABEL, ns),), (), False))
    witnesses = PerValue(_witnesses)  # a segment's selector recurs in every policy naming it
    for policy in policies:
        for labels in witnesses(policy.pod_selector):
            candidates.append((policy.namespace, ((NAMESPACE_NAME_LABEL, policy.namespace),), labels, False))
        for peer in policy.peers():
            if "ipBlock" in peer:
                continue
            for ns, ns_labels, ns_exact in _namespaces_for(peer, policy, named):
                for labels in witnesses(peer.get("podSelector")):
                    candidates.append((ns, ns_labels, labels, ns_exact))
    out = [dns_pods(), *balancers]
    seen: set[tuple[str, Labels]] = set()
    owned: set[tuple[str, Labels]] = set()
    index = PodWorld([*segments, *balancers])
    for ns, ns_labels, labels, ns_exact in candidates:
        if (ns, labels) in seen or (ns, labels) in owned:
            continue
        if _owned(ns, labels, index):
            owned.add((ns, labels))
            continue
        seen.add((ns, labels))
        where = f"in {ns}" if not ns_exact else f"in a namespace the spec never names ({show(ns_labels)})"
        what = f"pods {show(labels)}" if labels else "pods without labels"
        out.append(Pods(f"~{ns}/{show(labels)}", ns, labels, exact=True, ns_labels=ns_labels,
                        ns_exact=ns_exact, label=f"{what} {where}, of no segment"))
    return out


def reaches(selector: Mapping[str, Any] | None, pods: Pods, world: PodWorld) -> bool:
    """The selector matches some of these pods: some way they may be labelled
    that does not make them another segment's (or the cluster DNS) pods."""
    if pods.exact:
        return selector_matches(selector, dict(pods.labels))
    return any(not world.claimed(pods.namespace, labels, pods.end)
               for labels in witness_labels(selector, dict(pods.labels)))


def peer_ends(peer: Mapping[str, Any], policy_namespace: str, world: PodWorld) -> list[Pods]:
    """The pods of the world a selector peer may reach: namespaceSelector AND
    podSelector in one peer; podSelector alone means the policy's namespace;
    namespaceSelector alone means every pod of those namespaces."""
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and pod_sel is None:
        raise ValueError("a NetworkPolicy peer needs podSelector, namespaceSelector or ipBlock")
    pod_pins = pinned(pod_sel)
    if ns_sel is None:
        candidates = world.in_namespaces(
            lambda ns, _labels, exact: ns == policy_namespace and not exact, pod_pins)
    else:
        pins = name_pins(ns_sel)
        candidates = world.in_namespaces(
            lambda _ns, labels, exact: _named_in(pins, labels) and meets(ns_sel, labels, exact), pod_pins)
    return [p for p in candidates if reaches(pod_sel, p, world)]
