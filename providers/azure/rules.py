"""Which security rules each segment's NSG holds, and how Azure counts them.

A flow A -> B is an outbound rule on A's NSG and an inbound rule on B's. The
other end is named by its application security group when it is a segment
(identity: scaling changes no rule), by the exact addresses of
`Space.network` when it is a network or `internet` (never the listed CIDRs),
by the AzureLoadBalancer service tag for `@load-balancer` and by the
Storage tag (settings.objectStorageTag) for `@object-storage`. This
segment's side of every rule is its own ASG.

Rules are augmented (every port range and prefix of one peer in one rule) and
only allow: one deny-all per direction at the end of the user range shuts out
the rest, so the order among allows never matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cloudfence import families
from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.azure.wire import INBOUND, LOAD_BALANCER, OUTBOUND
from cloudfence.space import Space

SEGMENT, PREFIXES, LOAD_BALANCER_PEER, TAG_PEER = "segment", "prefixes", "load-balancer", "tag"


@dataclass(frozen=True)
class Rule:
    segment: str
    direction: str  # INBOUND | OUTBOUND
    protocol: str  # tcp, udp, icmp (Azure's Icmp: ICMP and ICMPv6) or any
    ports: IntervalSet  # FULL for every port (written "*")
    peer_kind: str  # SEGMENT | PREFIXES | LOAD_BALANCER_PEER | TAG_PEER
    peer: str  # the segment or network name, or the platform endpoint
    prefixes: tuple[IPNetwork, ...] = ()  # for TAG_PEER: none, the tag is `tag`
    family: int | None = None  # prefix rules hold one IP family
    flows: tuple[str, ...] = ()  # keys of the flows the rule serves
    tag: str = ""  # the service tag of a TAG_PEER rule

    @property
    def name(self) -> str:
        """Unique in its NSG and stable: direction, protocol and peer, never a position.
        Spec names have no '_' or '.', so the platform label and the IPv6 suffix cannot
        clash with a segment or network name; spec names are <= 40 characters, so this
        stays well inside Azure's 80."""
        way = "in" if self.direction == INBOUND else "out"
        side = "from" if self.direction == INBOUND else "to"
        peer = self.peer
        if self.peer_kind == LOAD_BALANCER_PEER:
            peer = "azure_load_balancer"
        elif self.peer_kind == TAG_PEER:
            peer = peer.lstrip("@").replace("-", "_")  # object_storage
        suffix = ".ipv6" if self.family == 6 else ""
        return f"{way}-{self.protocol}-{side}-{peer}{suffix}"


def flows_with(intent: Intent, implied: Iterable[Flow] = ()) -> list[Flow]:
    """The spec's flows and the implied ones, merged per (source, destination)."""
    merged: dict[tuple[Endpoint, Endpoint], Flow] = {}
    for f in (*intent.flows, *implied):
        key = (f.src, f.dst)
        old = merged.get(key)
        merged[key] = f if old is None else Flow(f.src, f.dst, old.ports | f.ports, old.origins + f.origins,
                                                 old.descriptions + f.descriptions)
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0].name, k[1].name))]


def _protocols(ports: PortSet, icmp_ok: bool) -> list[tuple[str, IntervalSet]]:
    """(protocol, ports) of the rules one peer needs; `any` is one rule. SCTP is the
    check's to refuse (and never written here)."""
    if ports.is_any():
        return [("any", FULL)]
    out = [(p, ports.get(p)) for p in ("tcp", "udp") if ports.get(p)]
    if icmp_ok and (ports.get("icmp") or ports.get("icmpv6")):
        out.append(("icmp", FULL))
    return out


def _family_addresses(space: Space, segment: str) -> AddressSet:
    """Addresses of the families a segment's members use (both without a cidr)."""
    out = AddressSet()
    for fam in space.families(Endpoint("segment", segment)):
        out = out | families.whole(fam)
    return out


def segment_rules(intent: Intent, space: Space, flows: list[Flow]) -> list[Rule]:
    rules: list[Rule] = []
    ends: dict[tuple[str, Endpoint], list[Flow]] = {}  # (direction, the segment's end): its flows
    for f in flows:
        ends.setdefault((OUTBOUND, f.src), []).append(f)
        ends.setdefault((INBOUND, f.dst), []).append(f)
    for seg in intent.segments:
        usable = _family_addresses(space, seg)
        for direction in (OUTBOUND, INBOUND):
            here = Endpoint("segment", seg)
            for flow in ends.get((direction, here), ()):
                peer = flow.dst if direction == OUTBOUND else flow.src
                rules.extend(_peer_rules(space, seg, direction, peer, flow, usable))
    return rules


def _peer_rules(space: Space, seg: str, direction: str, peer: Endpoint, flow: Flow,
                usable: AddressSet) -> list[Rule]:
    keys = (flow.key,)
    if peer.kind == "segment":
        common = space.families(Endpoint("segment", seg)) & space.families(peer)
        return [Rule(seg, direction, proto, ports, SEGMENT, peer.name, flows=keys)
                for proto, ports in _protocols(flow.ports, bool(common))]
    if peer.kind == "platform":
        resolved = space.endpoints.get(peer.name)
        if resolved is not None and direction == OUTBOUND:
            return [Rule(seg, direction, proto, ports, TAG_PEER, peer.name, flows=keys,
                         tag=resolved.native)
                    for proto, ports in _protocols(flow.ports, False)]
        if peer.name != LOAD_BALANCER or direction != INBOUND:
            return []  # the check refuses these
        return [Rule(seg, direction, proto, ports, LOAD_BALANCER_PEER, peer.name, flows=keys)
                for proto, ports in _protocols(flow.ports, False)]
    out = []
    for fam, part in sorted(families.by_family(space.network(peer.name) & usable).items()):
        prefixes = tuple(part.cidrs())
        icmp = "icmp" if fam == 4 else "icmpv6"
        for proto, ports in _protocols(flow.ports, bool(flow.ports.get(icmp))):
            out.append(Rule(seg, direction, proto, ports, PREFIXES, peer.name, prefixes, fam, keys))
    return out


def rules_by_segment(rules: list[Rule]) -> dict[str, list[Rule]]:
    """Each segment's rules, in order."""
    out: dict[str, list[Rule]] = {}
    for r in rules:
        out.setdefault(r.segment, []).append(r)
    return out


@dataclass(frozen=True)
class Counts:
    rules: int  # deny-all rules included
    sources: int  # address prefixes in sources
    destinations: int  # and in destinations (Azure counts them apart)
    asgs: int  # distinct ASGs referenced
    per_direction: dict[str, int]  # allow rules per direction (each needs a priority)


def count(intent: Intent, rules: list[Rule]) -> dict[str, Counts]:
    """Per segment, what its NSG uses of Azure's limits."""
    out = {}
    by_segment = rules_by_segment(rules)
    for seg in intent.segments:
        mine = by_segment.get(seg, [])
        prefixes = {d: sum(len(r.prefixes) for r in mine if r.direction == d) for d in (INBOUND, OUTBOUND)}
        asgs = {seg} | {r.peer for r in mine if r.peer_kind == SEGMENT}
        out[seg] = Counts(len(mine) + 2, prefixes[INBOUND], prefixes[OUTBOUND], len(asgs),
                          {d: sum(r.direction == d for r in mine) for d in (INBOUND, OUTBOUND)})
    return out
