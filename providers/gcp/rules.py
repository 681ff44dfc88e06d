"""Firewall rules: what each segment's rules must allow and deny.

Per segment: a deny-all ingress and a deny-all egress rule per IP family just
below the allows (GCP's implied rules allow all egress, and an existing
network may hold pre-populated allows at 65534), and one allow per flow end:

- ingress on the destination segment, naming a source segment by its tag or
  service account (identity: scaling changes no rule), a network or
  `internet` by its exact ranges (`Space.network`, one family per rule);
- egress on the source segment, naming the destination by ranges only (GCP
  egress rules take no tags): a segment's cidr, a network's exact ranges.

Each rule holds every port of its flow, all protocols in one rule.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.families import BOTH, segment_families, split, useful
from cloudfence.intent import Flow, Intent
from cloudfence.memo import remembered
from cloudfence.ports import PortSet
from cloudfence.providers.gcp.identity import Identity
from cloudfence.providers.gcp.settings import GcpSettings
from cloudfence.providers.gcp.wire import EGRESS, INGRESS
from cloudfence.space import Space, space_for


@dataclass(frozen=True)
class Rule:
    segment: str  # the target: whose workloads the rule applies to
    direction: str  # INGRESS | EGRESS
    allow: bool
    ports: PortSet
    peer: str = ""  # the segment or network the rule names; "" for the deny-all rules
    family: int | None = None  # None: the peer is named by identity, not by ranges
    ranges: tuple[IPNetwork, ...] = ()
    source: Identity | None = None  # ingress from a segment
    part: int = 0  # index of this rule's share of a range list longer than a rule holds
    flows: tuple[str, ...] = ()  # keys of the spec flows the rule serves

    @property
    def key(self) -> str:
        """Content identity: what the rule is for, never where it sits in a list."""
        action = "allow" if self.allow else "deny"
        return f"fw|{self.segment}|{self.direction}|{action}|{self.peer}|{self.family}|{self.part}"


#: Every address of one family: what a deny-all rule names.
WHOLE: dict[int, IPNetwork] = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


def usable(ports: PortSet, families: frozenset[int]) -> PortSet:
    """The ports of a flow that can pass between ends sharing `families`."""
    if ports.is_any() or all(useful(p, families) for p in ports):
        return ports
    return PortSet((p, ivs) for p, ivs in ports.items() if useful(p, families))


def chunks(cidrs: list[IPNetwork], size: int) -> list[tuple[IPNetwork, ...]]:
    return [tuple(cidrs[i:i + size]) for i in range(0, len(cidrs), size)]


@remembered
def firewall_rules(intent: Intent, settings: GcpSettings, ids: dict[str, Identity]) -> list[Rule]:
    space = space_for(intent, settings)
    rules: list[Rule] = []
    for seg in intent.segments:
        for direction in (INGRESS, EGRESS):
            for fam in sorted(BOTH):
                rules.append(Rule(seg, direction, False, PortSet.any(), family=fam,
                                  ranges=(WHOLE[fam],)))
        for flow in intent.flows_to(seg):
            rules += _ingress(intent, space, settings, ids, seg, flow)
        for flow in intent.flows_from(seg):
            rules += _egress(intent, space, settings, seg, flow)
    return rules


def _by_ranges(settings: GcpSettings, seg: str, direction: str, peer: str, flow: Flow,
               families: frozenset[int], addresses: AddressSet) -> list[Rule]:
    out = []
    v4, v6 = split(addresses.cidrs())
    by_family: dict[int, list[IPNetwork]] = {4: list(v4), 6: list(v6)}
    for fam, cidrs in by_family.items():
        ports = usable(flow.ports, frozenset([fam]) & families)
        if not cidrs or fam not in families or not ports:
            continue
        for i, ranges in enumerate(chunks(cidrs, settings.ranges_per_rule)):
            out.append(Rule(seg, direction, True, ports, peer, fam, ranges, part=i, flows=(flow.key,)))
    return out


def _ingress(intent: Intent, space: Space, settings: GcpSettings, ids: dict[str, Identity],
             seg: str, flow: Flow) -> list[Rule]:
    src = flow.src
    families = segment_families(intent, seg)
    if src.kind == "segment":
        ports = usable(flow.ports, families & segment_families(intent, src.name))
        if not ports:
            return []
        return [Rule(seg, INGRESS, True, ports, src.name, source=ids[src.name], flows=(flow.key,))]
    if src.kind == "network" or src.name in space.endpoints:  # endpoints: documented ranges
        return _by_ranges(settings, seg, INGRESS, src.name, flow, families, space.network(src.name))
    return []  # other platform endpoints: check has reported them


def _egress(intent: Intent, space: Space, settings: GcpSettings, seg: str, flow: Flow) -> list[Rule]:
    dst = flow.dst
    families = segment_families(intent, seg)
    if dst.kind == "segment":  # by its cidr: check refuses a destination segment without one
        return _by_ranges(settings, seg, EGRESS, dst.name, flow, families,
                          intent.segments[dst.name].addresses)
    if dst.kind == "network" or dst.name in space.endpoints:
        return _by_ranges(settings, seg, EGRESS, dst.name, flow, families, space.network(dst.name))
    return []
