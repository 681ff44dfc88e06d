"""Read a GCP plan back with the VPC firewall semantics (cloud-semantics.md 3.1).

Per workload, per direction, the matching rule of highest priority (lowest
number) decides; at equal priority a deny wins. Below every rule sit the
implied ones: allow all egress, deny all ingress (65535). A rule applies to
the workloads its targets name (network tags, service accounts) or, with no
target, to every workload of the network. Ingress rules match sources by
range, tag or service account (tags and service accounts match workloads,
wherever they are); egress rules match destinations by range only.
Connections are stateful; the core joins both ends.

A workload of a segment carries that segment's tag (derived from the spec and
segment names) or service account (from the settings the plan was compiled
with); what the records grant each segment is checked against the plan's
exports. The ordered rules become allow-only
peers exactly (`cloudfence.firstmatch`). Where a record says more than the model
holds (a protocol among "other", a tag of no segment, a rule with no source),
the reading leans to allowing more, so that verify reports an opening rather
than hiding one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.errors import CloudfenceError
from cloudfence.firstmatch import Rule, Scope, first_match
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.memo import PerValue
from cloudfence.nodepools import SETTING, node_pool_assumptions
from cloudfence.plan import Plan, Resource, ref
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.gcp.access import access_assumptions, access_problems
from cloudfence.providers.gcp.identity import Identity, identities, network_tags
from cloudfence.providers.gcp.settings import NODE_IDENTITY, SERVICE_ACCOUNT, TAG, GcpSettings
from cloudfence.providers.gcp.wire import (
    ALL,
    DEFAULT_PRIORITY,
    EGRESS,
    FIREWALL,
    IMPLIED_PRIORITY,
    INGRESS,
    NETWORK,
    PORTED,
    PROTOCOL_NAMES,
)
from cloudfence.reachability import EGRESS as OUT
from cloudfence.reachability import INGRESS as IN
from cloudfence.reachability import Peer, Reachability
from cloudfence.settings import validate_settings
from cloudfence.space import space_for

EVERYTHING = AddressSet.everything()


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str], target: str = "gcp") -> Reachability:
    problems = access_problems(plan, intent)
    if problems:
        raise CloudfenceError(problems)
    reach = Reachability(target, governed)
    settings = _settings(plan)
    granted = _granted(plan, intent, settings)
    members = {(ident.kind, ident.value): seg for seg, ident in granted.items()}
    network = _network(plan)
    for seg, ident in sorted(granted.items()):
        reach.identity(seg, {ident.kind: ident.value, **({"network": network} if network else {})})
    reach.assumptions.append(
        "a workload of a segment carries that segment's network tag or service account, and no "
        "other tag or account a firewall rule of the network targets; rules of a higher priority "
        "outside the plan (and firewall policies) are not modelled")
    reach.assumptions += access_assumptions(plan, intent)
    reach.assumptions += node_pool_assumptions(intent, (plan.settings or {}).get(SETTING), NODE_IDENTITY)
    reach.assumptions.append(
        "traffic GCP never filters (the metadata server 169.254.169.254 and the DNS, DHCP and NTP "
        "it serves) is outside the rules")
    hidden = space_for(intent, settings).hidden
    regions = {seg: hidden for seg, s in intent.segments.items() if not s.cidrs}
    universe = Scope(EVERYTHING, tuple(sorted((seg, r) for seg, r in regions.items() if r)))
    targeted = _Targeted(_on_the_network(plan))
    reader = _Reader(intent, members, regions)
    for seg in sorted(governed):
        own = {(granted[seg].kind, granted[seg].value)} if seg in granted else set()
        for direction, way in ((INGRESS, IN), (EGRESS, OUT)):
            rules = [rule for rec in targeted.applying(direction, own)
                     for rule in reader.rules(rec, direction)]
            implied_allow = direction == EGRESS
            # GCP evaluates the implied rules after every rule of the network, so they sit
            # below 65535: a rule of the plan at 65535 still decides first.
            rules.append(Rule(IMPLIED_PRIORITY + 1, implied_allow, universe, PortSet.any()))
            if not universe.held:  # no region to hold: every identity part of every scope is empty
                _allow_by_address(reach, seg, way, rules)
                continue
            for hit in first_match(rules, universe):
                if hit.points.plain:
                    reach.allow(seg, way, Peer(addresses=hit.points.plain), hit.ports)
                named: frozenset[str] = hit.rule.label or frozenset()
                for other in sorted(named & hit.points.names()):
                    # Only where the rule lets all of the identity's region through are all
                    # its workloads reached (a deny by range above may take some of them).
                    whole = hit.points.part(other) == regions[other]
                    reach.allow(seg, way, Peer.segment(other) if whole else Peer(partly=frozenset([other])),
                                hit.ports)
    return reach


def _allow_by_address(reach: Reachability, seg: str, way: str, rules: list[Rule[Scope, _Named]]) -> None:
    """The walk when no identity holds any address (every segment has a cidr, or the
    hidden space is empty): then a scope is its addresses, and the walk runs on those
    without the per-identity bookkeeping."""
    plain: list[Rule[AddressSet, None]] = [Rule(r.priority, r.allow, r.match.plain, r.ports) for r in rules]
    for hit in first_match(plain, EVERYTHING):
        reach.allow(seg, way, Peer(addresses=hit.points), hit.ports)


def _settings(plan: Plan) -> GcpSettings | None:
    """The settings the plan was compiled with, where the plan carries them."""
    raw = getattr(plan, "settings", None)
    if not isinstance(raw, Mapping) or not raw:
        return None
    settings, _ = validate_settings(GcpSettings, raw, "gcp")
    return settings


def _granted(plan: Plan, intent: Intent, settings: GcpSettings | None) -> dict[str, Identity]:
    """Segment -> the identity its workloads carry. Network tags are derived from
    the spec and segment names; service accounts come from the settings the plan
    was compiled with, or else from what the plan exports (the accounts workloads
    run as). verify compares each with the plan's exports."""
    if settings is not None and (settings.identity == TAG or
                                 set(intent.segments) <= set(settings.service_accounts)):
        return identities(intent, settings)
    tags = network_tags(intent)
    out = {}
    for seg in intent.segments:
        values = plan.exports.get(seg, {})
        if isinstance(values.get(SERVICE_ACCOUNT), str):
            out[seg] = Identity(SERVICE_ACCOUNT, values[SERVICE_ACCOUNT])
        else:
            out[seg] = Identity(TAG, tags[seg])
    return out


def _network(plan: Plan) -> str | None:
    """The network the segments' rules are on: the one the plan creates, or the
    one every firewall rule names."""
    created = [ref(n.name) for n in plan.by_type(NETWORK)]
    if created:
        return created[0]
    named = {r.inputs.get("network") for r in plan.by_type(FIREWALL)}
    return named.pop() if len(named) == 1 and isinstance(next(iter(named)), str) else None


def _on_the_network(plan: Plan) -> list[Resource]:
    """Rules enforced on the segments' network: the one the plan creates, if it
    creates one (rules naming another network guard other workloads)."""
    created = [ref(n.name) for n in plan.by_type(NETWORK)]
    rules = [r for r in plan.by_type(FIREWALL) if not r.inputs.get("disabled")]
    if not created:
        return rules
    return [r for r in rules if r.inputs.get("network") in created]


def _direction(rec: Resource) -> str:
    return str(rec.inputs.get("direction") or INGRESS).upper()


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Targeted:
    """The records by direction and by the identity they target (none: every workload), so
    a segment's records are found by its identity, not by reading all for every segment."""

    def __init__(self, records: list[Resource]) -> None:
        self.records = records
        self.index: dict[tuple[str, tuple[str, str] | None], list[int]] = {}
        for i, rec in enumerate(records):
            targets: list[tuple[str, str] | None] = [
                *((TAG, t) for t in _strings(rec.inputs.get("targetTags"))),
                *((SERVICE_ACCOUNT, a) for a in _strings(rec.inputs.get("targetServiceAccounts")))]
            for target in dict.fromkeys(targets or [None]):
                self.index.setdefault((_direction(rec), target), []).append(i)

    def applying(self, direction: str, own: set[tuple[str, str]]) -> list[Resource]:
        """In plan order: the untargeted records and those naming one of `own`."""
        found = set(self.index.get((direction, None), ()))
        for ident in own:
            found.update(self.index.get((direction, ident), ()))
        return [self.records[i] for i in sorted(found)]


def _ranges(values: Iterable[str]) -> AddressSet:
    return _parsed_ranges(tuple(values))


@lru_cache(maxsize=4096)
def _parsed_ranges(values: tuple[str, ...]) -> AddressSet:
    """Parsed once per list: one segment's or network's ranges recur in many records."""
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            continue  # GCP refuses the rule; nothing of it reaches a workload
    return AddressSet.from_cidrs(nets)


class _Named(frozenset[str]):
    """Segments a rule names by identity (only those hits become segment peers)."""


_MATCHED = {EGRESS: ("destinationRanges",), INGRESS: ("sourceRanges", "sourceTags", "sourceServiceAccounts")}


class _Reader:
    """A plan's records as ordered rules; a list of port entries (a service's) and one of
    sources or destinations (a segment's) are each read once per distinct value."""

    def __init__(self, intent: Intent, members: dict[tuple[str, str], str],
                 regions: dict[str, AddressSet]) -> None:
        self.intent, self.members, self.regions = intent, members, regions
        self.ports = PerValue(_ports)
        self._matches = PerValue(self._match)

    def rules(self, rec: Resource, direction: str) -> list[Rule[Scope, _Named]]:
        priority = rec.inputs.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 65535:
            return []  # GCP refuses such a rule
        out = []
        for key, allow in (("denies", False), ("allows", True)):
            entries = rec.inputs.get(key)
            if not isinstance(entries, list) or not entries:
                continue
            ports = self.ports(entries, allow)
            match, named = self.match(rec, direction, allow)
            if ports and match:
                out.append(Rule(priority, allow, match, ports, named))
        return out

    def match(self, rec: Resource, direction: str, allow: bool) -> tuple[Scope, _Named]:
        return self._matches({f: rec.inputs.get(f) for f in _MATCHED[direction]}, direction, allow)

    def _match(self, matched: dict[str, Any], direction: str, allow: bool) -> tuple[Scope, _Named]:
        return _match(matched, direction, allow, self.intent, self.members, self.regions)


def _match(inputs: Mapping[str, Any], direction: str, allow: bool, intent: Intent,
           members: dict[tuple[str, str], str], regions: dict[str, AddressSet]) -> tuple[Scope, _Named]:
    """What a rule matches, from the inputs `_MATCHED` names for its direction."""
    everything = Scope(EVERYTHING, tuple(sorted(regions.items())))
    if direction == EGRESS:
        dests = _strings(inputs.get("destinationRanges"))
        if not dests:  # GCP's default destination is every address; lean open for a deny
            return (everything if allow else Scope()), _Named()
        return Scope.addresses(_ranges(dests), regions), _Named()
    ranges = _strings(inputs.get("sourceRanges"))
    idents = [(TAG, t) for t in _strings(inputs.get("sourceTags"))] + \
             [(SERVICE_ACCOUNT, a) for a in _strings(inputs.get("sourceServiceAccounts"))]
    if not ranges and not idents:  # GCP refuses it; lean open for an allow
        return (everything if allow else Scope()), _Named()
    scope = Scope.addresses(_ranges(ranges), regions)
    named: set[str] = set()
    for ident in idents:
        seg = members.get(ident)
        if seg is None:  # carried by workloads of no segment, or of any: lean open
            if allow:
                return everything, _Named(regions)
            continue
        if seg in regions:
            scope = scope | Scope.identity(seg, regions[seg])
            named.add(seg)
        else:
            scope = scope | Scope(intent.segments[seg].addresses)
    return scope, _Named(named)


def _ports(entries: list[Any], allow: bool) -> PortSet:
    """What `allows`/`denies` entries match. Entries the model cannot hold widen
    an allow and narrow a deny (to nothing), so the reading never hides an opening."""
    pairs: list[tuple[str, IntervalSet]] = []
    for e in entries:
        if not isinstance(e, dict):
            continue
        proto = str(e.get("protocol", "")).lower()
        if proto == ALL:
            pairs += PortSet.any().items()
            continue
        name = PROTOCOL_NAMES.get(proto)
        if name is None:
            if allow:
                pairs.append(("other", FULL))
            continue
        ports = e.get("ports")
        if name not in PORTED or not ports:
            pairs.append((name, FULL))
            continue
        ivs = _port_list(ports)
        if ivs is not None or allow:
            pairs.append((name, FULL if ivs is None else ivs))
    return PortSet(pairs)  # one set of them all, merged once


def _port_list(ports: Any) -> IntervalSet | None:
    if not isinstance(ports, list):
        return None
    spans = []
    for p in ports:
        lo, sep, hi = str(p).partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return None
        a, b = int(lo), int(hi) if sep else int(lo)
        if not 0 <= a <= b <= 65535:
            return None
        spans.append((a, b))
    return IntervalSet(spans)
