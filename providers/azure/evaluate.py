"""Read an Azure plan back with the documented NSG semantics (cloud-semantics.md 2.1-2.3).

An NSG's rules are read per direction by priority, first match wins, with the
default rules Azure adds after every user rule (65000 AllowVNetInBound /
AllowVnetOutBound, 65001 AllowAzureLoadBalancerInBound / AllowInternetOutBound,
65500 deny): a plan without its deny-all is read as open to the virtual network
and the internet, as Azure would run it. Stateful: a connection needs the
source's NSG to let it out and the destination's to let it in.

Which NSG filters a segment: the one associated with the subnet holding its
cidr, else the NSG tagged with the segment (the one it exports, which its
workloads attach). A segment no NSG filters allows everything. An ASG matches
the segment it is tagged with.

Where a record says more than the model can hold (a destination prefix that
covers part of a segment, a service tag other than VirtualNetwork, Internet and
AzureLoadBalancer, a source port, Esp/Ah), allows read wider and denies
narrower, so verify reports an opening rather than hiding one.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.endpoints import OBJECT_STORAGE
from cloudfence.firstmatch import Rule, first_match
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.nodepools import SETTING, node_pool_assumptions
from cloudfence.plan import REF, Plan, Resource
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.azure.settings import NODE_IDENTITY
from cloudfence.providers.azure.wire import (
    ASG,
    DEFAULT_RULES,
    INBOUND,
    INTERNET_TAG,
    LOAD_BALANCER,
    LOAD_BALANCER_TAG,
    NSG,
    OUTBOUND,
    SECURITY_RULE,
    STORAGE,
    STORAGE_TAG,
    SUBNET,
    TAG_SEGMENT,
    VIRTUAL_NETWORK,
    VIRTUAL_NETWORK_TAG,
)
from cloudfence.reachability import EGRESS, INGRESS, Peer, Points, Reachability

FULLY, PARTLY, NOT = "fully", "partly", "not"


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str],
                  target: str = "azure") -> Reachability:
    reach = Reachability(target, governed)
    world = _World.of(plan, intent)
    filters, subnets = _filters(plan, intent)
    standalone = _standalone_rules(plan)
    for seg in sorted(governed):
        nsgs = filters.get(seg, [])
        if not nsgs:  # no NSG: Azure filters nothing
            for direction in (EGRESS, INGRESS):
                reach.allow(seg, direction, Peer.all(), PortSet.any())
            continue
        for nsg in nsgs:
            for direction, azure in ((INGRESS, INBOUND), (EGRESS, OUTBOUND)):
                rules = world.ordered(seg, _rules(nsg, standalone.get(nsg.name, []), azure), azure)
                for hit in first_match(rules, world.everything()):
                    reach.allow(seg, direction, world.peer(hit.points), hit.ports)
    _identities(reach, world, filters, subnets)
    reach.assumptions += node_pool_assumptions(intent, (plan.settings or {}).get(SETTING), NODE_IDENTITY)
    return reach


# ------------------------------------------------------------------ records


def _ref_name(value: Any) -> str | None:
    m = REF.match(value) if isinstance(value, str) else None
    return m.group("name") if m else None


def _segment_tag(r: Resource) -> str | None:
    tags = r.inputs.get("tags")
    return tags.get(TAG_SEGMENT) if isinstance(tags, dict) else None


def _prefixes(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for text in value if isinstance(value, list) else [value]:
        try:
            out.append(ipaddress.ip_network(str(text), strict=False))
        except ValueError:
            continue
    return out


@lru_cache(maxsize=4096)
def _prefix_addresses(text: str) -> AddressSet | None:
    """A rule item's prefix, parsed once (one segment's cidr recurs in many rules); None
    when the item is no prefix."""
    nets = _prefixes(text)
    return AddressSet.from_cidrs(nets) if nets else None


def _filters(plan: Plan, intent: Intent) -> tuple[dict[str, list[Resource]], dict[str, list[str]]]:
    """Per segment, the NSGs that filter its members' traffic, and the subnets holding it."""
    nsgs = {r.name: r for r in plan.by_type(NSG)}
    out: dict[str, list[Resource]] = defaultdict(list)
    subnet_of: dict[str, list[Resource | None]] = defaultdict(list)
    subnets: dict[str, list[str]] = defaultdict(list)
    located = _Located(intent)
    for subnet in plan.by_type(SUBNET):
        held = (_prefixes(subnet.inputs.get("addressPrefixes") or [])
                + _prefixes(subnet.inputs.get("addressPrefix") or []))
        assoc = subnet.inputs.get("networkSecurityGroup")
        nsg = nsgs.get(_ref_name(assoc.get("id")) or "") if isinstance(assoc, dict) else None
        for seg in located.overlapping(held):
            subnet_of[seg].append(nsg)
            subnets[seg].append(subnet.name)
    for seg in intent.segments:
        if seg in subnet_of:
            if all(n is not None for n in subnet_of[seg]):
                out[seg] = sorted({n.name: n for n in subnet_of[seg] if n is not None}.values(),
                                  key=lambda n: n.name)
            # a subnet of the segment without an NSG lets its members' traffic through unfiltered
            continue
        out[seg] = [n for n in nsgs.values() if _segment_tag(n) == seg]
    return out, subnets


class _Located:
    """The segments' cidrs sorted by first address (the spec keeps them disjoint), so the
    segments a subnet overlaps are found by bisection, not by a pass over all segments."""

    def __init__(self, intent: Intent) -> None:
        order = {seg: i for i, seg in enumerate(intent.segments)}
        cidrs = sorted((c.version, int(c.network_address), int(c.broadcast_address), order[seg], seg)
                       for seg, segment in intent.segments.items() for c in segment.cidrs)
        self.cidrs = cidrs
        self.starts = [(v, lo) for v, lo, *_ in cidrs]

    def overlapping(self, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> list[str]:
        """In the spec's order of segments."""
        hits: dict[str, int] = {}
        for net in nets:
            lo, hi = int(net.network_address), int(net.broadcast_address)
            i = max(bisect.bisect_right(self.starts, (net.version, lo)) - 1, 0)
            while i < len(self.cidrs) and self.starts[i] <= (net.version, hi):
                version, start, end, rank, seg = self.cidrs[i]
                if version == net.version and start <= hi and end >= lo:
                    hits[seg] = rank
                i += 1
        return sorted(hits, key=hits.__getitem__)


@dataclass(frozen=True)
class _Rule:
    priority: int
    allow: bool
    protocol: str
    source: list[Any]  # prefixes, tags or ASG references
    destination: list[Any]
    ports: IntervalSet | None  # None: unreadable
    source_ports_any: bool


def _side(rule: dict[str, Any], side: str) -> list[Any]:
    items: list[Any] = []
    single = rule.get(f"{side}AddressPrefix")
    if single:
        items.append(single)
    items.extend(rule.get(f"{side}AddressPrefixes") or [])
    items.extend({"asg": a.get("id") if isinstance(a, dict) else a}
                 for a in rule.get(f"{side}ApplicationSecurityGroups") or [])
    return items


def _port_text(text: Any) -> IntervalSet | None:
    text = str(text).strip()
    if text == "*":
        return FULL
    lo, _, hi = text.partition("-")
    if not lo.isdigit() or (hi and not hi.isdigit()):
        return None
    a, b = int(lo), int(hi or lo)
    return IntervalSet.of(a, b) if 0 <= a <= b <= 65535 else None


def _ports(rule: dict[str, Any], side: str) -> IntervalSet | None:
    single = rule.get(f"{side}PortRange")
    texts = ([] if single is None else [single]) + list(rule.get(f"{side}PortRanges") or [])
    if not texts:
        return FULL if side == "source" else None
    out = IntervalSet()
    for t in texts:
        ivs = _port_text(t)
        if ivs is None:
            return None
        out = out | ivs
    return out


def _read(rule: Any, direction: str) -> _Rule | None:
    if not isinstance(rule, dict) or str(rule.get("direction", "")).lower() != direction.lower():
        return None
    access = str(rule.get("access", "")).lower()
    priority = rule.get("priority")
    if access not in ("allow", "deny") or not isinstance(priority, (int, float)):
        return None  # Azure rejects such a rule
    ports = _ports(rule, "destination")
    return _Rule(int(priority), access == "allow", str(rule.get("protocol", "")).lower(),
                 _side(rule, "source"), _side(rule, "destination"), ports,
                 _ports(rule, "source") == FULL)


def _standalone_rules(plan: Plan) -> dict[str | None, list[Any]]:
    """The inputs of the standalone SecurityRules, in plan order, by the NSG they name:
    found in one pass, not one per NSG and direction."""
    out: dict[str | None, list[Any]] = {}
    for r in plan.by_type(SECURITY_RULE):
        out.setdefault(_ref_name(r.inputs.get("networkSecurityGroupName")), []).append(r.inputs)
    return out


def _rules(nsg: Resource, standalone: list[Any], direction: str) -> list[_Rule]:
    """User rules (inline, and standalone SecurityRules that name the NSG: Azure enforces
    those too) and the default rules, in evaluation order. Azure refuses equal priorities
    in one direction; `first_match` reads a deny first there."""
    raw = [*(nsg.inputs.get("securityRules") or []), *standalone]
    found = [rule for rule in (_read(r, direction) for r in raw) if rule is not None]
    for _, prio, d, src, dst, access in DEFAULT_RULES:
        if d == direction:
            found.append(_Rule(prio, access == "Allow", "*", [src], [dst], FULL, True))
    return sorted(found, key=lambda r: (r.priority, not r.allow))


# ------------------------------------------------------------ what matches


@dataclass(frozen=True)
class _World:
    intent: Intent
    asg_segment: dict[str, str | None]
    vnet: AddressSet | None  # the VirtualNetwork tag's addresses, when the plan says them
    storage: str = STORAGE_TAG  # the service tag the settings make `@object-storage`
    _items: dict[tuple[Any, ...], Points] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def of(cls, plan: Plan, intent: Intent) -> _World:
        asgs = {r.name: _segment_tag(r) for r in plan.by_type(ASG)}
        vnet = None
        for v in plan.by_type(VIRTUAL_NETWORK):
            space = v.inputs.get("addressSpace") or {}
            listed = AddressSet.from_cidrs(_prefixes(space.get("addressPrefixes") or []))
            vnet = (vnet or AddressSet()) | listed
        settings = getattr(plan, "settings", None) or {}
        if vnet is None and settings.get("addressSpace"):
            vnet = AddressSet.from_cidrs(_prefixes(settings["addressSpace"]))
        tag = settings.get("objectStorageTag")
        return cls(intent, asgs, vnet, tag if isinstance(tag, str) else STORAGE_TAG)

    @cached_property
    def segments(self) -> frozenset[str]:
        return frozenset(n for n, s in self.intent.segments.items() if not s.cidrs)

    def segment(self, name: str) -> Points:
        seg = self.intent.segments[name]
        return Points(addresses=seg.addresses) if seg.cidrs else Points(opaque=frozenset([name]))

    def every_segment(self) -> Points:
        return self._every_segment

    @cached_property
    def _every_segment(self) -> Points:
        cidrs = [c for seg in self.intent.segments.values() for c in seg.cidrs]
        return Points(opaque=self.segments, addresses=AddressSet.from_cidrs(cidrs))

    @cached_property
    def tagged(self) -> frozenset[str]:
        """Endpoints named by a public service tag that the spec uses: the Internet tag
        and `*` hold them too (an unnamed one is no point of this world)."""
        named = {ep.name for f in self.intent.flows for ep in (f.src, f.dst)}
        return frozenset([OBJECT_STORAGE]) & named

    def everything(self) -> Points:
        return self._everything

    @cached_property
    def _everything(self) -> Points:
        return Points(self.segments | {LOAD_BALANCER} | self.tagged, AddressSet.everything())

    def item(self, item: Any, allow: bool) -> Points:
        """The peers one source or destination item names. Unknown meaning: every peer
        for an allow, none for a deny."""
        wide = self.everything() if allow else Points()
        if isinstance(item, dict):
            seg = self.asg_segment.get(_ref_name(item.get("asg")) or "")
            return self.segment(seg) if seg in self.intent.segments else wide
        text = str(item).strip()
        if text in ("*", "Any", "any"):
            return self.everything()
        if text == VIRTUAL_NETWORK_TAG:
            if self.vnet is None:
                return wide
            return Points(self.segments, self.vnet) | self.every_segment()
        if text == INTERNET_TAG:
            if self.vnet is None:
                outside = AddressSet.everything() - self.every_segment().addresses
                return Points(self.tagged, outside) if allow else Points()
            return Points(self.tagged, AddressSet.everything() - self.vnet - self.every_segment().addresses)
        if text == LOAD_BALANCER_TAG:
            return Points(opaque=frozenset([LOAD_BALANCER]))
        if text == self.storage:  # another Storage tag: unknown addresses, as any other tag
            return Points(opaque=frozenset([OBJECT_STORAGE]))
        addrs = _prefix_addresses(text)
        if addrs is None:
            return wide  # another service tag: its addresses are unknown offline
        # Members of segments without a cidr hold addresses we do not know: a prefix
        # surely holds some of them only when it covers a whole family (both, for a deny).
        covers = addrs.covers_a_family() if allow else addrs == AddressSet.everything()
        return Points(self.segments if covers else frozenset(), addrs)

    def items(self, items: list[Any], allow: bool) -> Points:
        """Remembered per list: one peer (an ASG, a segment's prefixes) recurs in many rules."""
        key = (allow, *(("asg", _ref_name(i.get("asg"))) if isinstance(i, dict) else str(i) for i in items))
        found = self._items.get(key)
        if found is None:
            found = Points()
            for item in items:
                found = found | self.item(item, allow)
            self._items[key] = found
        return found

    def applies(self, seg: str, items: list[Any]) -> str:
        """Whether a rule's own side (destination inbound, source outbound) matches the
        segment's members: fully, partly or not."""
        mine = self.segment(seg)
        verdicts = set()
        for item in items:
            if isinstance(item, dict):
                owner = self.asg_segment.get(_ref_name(item.get("asg")) or "")
                verdicts.add(FULLY if owner == seg else NOT if owner in self.intent.segments else PARTLY)
                continue
            text = str(item).strip()
            if text in ("*", "Any", "any", VIRTUAL_NETWORK_TAG):
                verdicts.add(FULLY)
            elif text in (INTERNET_TAG, LOAD_BALANCER_TAG) or STORAGE.match(text):
                verdicts.add(NOT)
            elif (addrs := _prefix_addresses(text)) is None:
                verdicts.add(PARTLY)
            else:
                verdicts.add(self._prefix_applies(mine, addrs))
        if FULLY in verdicts:
            return FULLY
        return PARTLY if PARTLY in verdicts else NOT

    def _prefix_applies(self, mine: Points, addrs: AddressSet) -> str:
        if mine.opaque:
            return FULLY if addrs == AddressSet.everything() else PARTLY
        if mine.addresses.issubset(addrs):
            return FULLY
        return PARTLY if mine.addresses & addrs else NOT

    def ordered(self, seg: str, rules: list[_Rule], direction: str) -> Iterator[Rule[Points, None]]:
        """The NSG's rules of one direction as they act on the segment's members."""
        for r in rules:
            own, peer = (r.destination, r.source) if direction == INBOUND else (r.source, r.destination)
            ports = _port_set(r)
            if not ports or (not r.source_ports_any and not r.allow):
                continue  # unreadable (Azure refuses it), or a deny narrowed by source port
            applies = self.applies(seg, own)
            if applies == NOT or (applies == PARTLY and not r.allow):
                continue
            yield Rule(r.priority, r.allow, self.items(peer, r.allow), ports)

    def peer(self, points: Points) -> Peer:
        segs = points.opaque & self.segments
        return Peer(segments=frozenset(segs), platform=frozenset(points.opaque - segs),
                    addresses=points.addresses)


def _port_set(r: _Rule) -> PortSet | None:
    if r.ports is None:
        return None
    proto = r.protocol
    if proto == "tcp":
        return PortSet({"tcp": r.ports})
    if proto == "udp":
        return PortSet({"udp": r.ports})
    if proto == "icmp":
        return PortSet({"icmp": FULL, "icmpv6": FULL})
    if proto in ("*", "any"):
        if r.ports == FULL:
            return PortSet.any()
        if r.allow:  # ports restrict tcp and udp; read the rest as allowed
            return PortSet({"tcp": r.ports, "udp": r.ports, "sctp": r.ports, "icmp": FULL, "icmpv6": FULL,
                            "other": FULL})
        return PortSet({"tcp": r.ports, "udp": r.ports})
    if proto in ("esp", "ah"):
        return PortSet({"other": FULL}) if r.allow else PortSet()
    return None


def _identities(reach: Reachability, world: _World, filters: dict[str, list[Resource]],
                subnets: dict[str, list[str]]) -> None:
    """What the records grant each segment, for verify to compare with the exports."""
    identity = getattr(reach, "identity", None)
    if identity is None:
        return
    owned: dict[str | None, list[str]] = {}
    for name, owner in world.asg_segment.items():
        owned.setdefault(owner, []).append(name)
    for seg in sorted(reach.governed):
        granted: dict[str, str] = {}
        asgs = owned.get(seg, [])
        if len(asgs) == 1:
            granted["applicationSecurityGroupId"] = f"${{{asgs[0]}.id}}"
        nsgs = filters.get(seg, [])
        if len(nsgs) == 1:
            granted["networkSecurityGroupId"] = f"${{{nsgs[0].name}.id}}"
        if len(subnets.get(seg, [])) == 1:
            granted["subnetId"] = f"${{{subnets[seg][0]}.id}}"
        identity(seg, granted)
