"""Security group rules: what each segment's groups must allow, one rule per
(peer, protocol, port range), and how AWS weighs them against the quota.

A flow A -> B gives an egress rule on A and an ingress rule on B. Segment
peers are named by their group (identity: scaling a segment changes no rule).
Networks are named by exactly what they mean on this target
(`Space.network`: their addresses less every segment's cidr; `internet` is
public space less the VPC's CIDRs and egressIps), never the raw listing, so a
network never bridges two segments. A network of many CIDRs in one family may
be written once as a customer-managed prefix list that every group references:
AWS weighs such a rule as the list's max entries, so it saves resources, not
quota.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.families import compatible
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.ports import PortSet
from cloudfence.providers.aws.boxes import Box, pack, spans
from cloudfence.space import Space

EGRESS, INGRESS = "egress", "ingress"
PREFIX_LIST_FROM = 5  # a network of at least this many CIDRs in a family becomes a prefix list
MAX_PREFIX_LIST_ENTRIES = 1000  # AWS: entries per customer-managed prefix list


@dataclass(frozen=True)
class PrefixList:
    """A network's exact CIDRs of one family, as one customer-managed prefix list."""

    network: str
    family: int
    entries: tuple[IPNetwork, ...]
    managed: str = ""  # an AWS-managed list (a platform endpoint's): its id; not created
    weight: int = 0  # the managed list's weight

    @property
    def max_entries(self) -> int:
        """The quota weight of every rule that references it."""
        return self.weight if self.managed else len(self.entries)


@dataclass(frozen=True)
class Rule:
    segment: str
    direction: str  # "ingress" | "egress"
    box: Box  # box.net is None for a rule naming a group or a prefix list
    peer: str | None = None  # the segment whose group the rule references
    flows: tuple[str, ...] = ()  # keys of the spec flows the rule serves
    prefix_list: PrefixList | None = None
    group: int = 0  # which of the segment's groups holds it (0: the segment's own)

    @property
    def weights(self) -> dict[int, int]:
        """Quota use per IP family: a group reference counts for both ("counts as one
        rule for IPv4 and one rule for IPv6"), a prefix list as its max entries
        (amazon-vpc-limits)."""
        if self.prefix_list is not None:
            return {self.prefix_list.family: self.prefix_list.max_entries}
        if self.box.net is None:
            return {4: 1, 6: 1}
        return {self.box.net.version: 1}

    @property
    def key(self) -> str:
        """Content identity: what the rule allows, never where it sits."""
        b = self.box
        peer = self.peer or (f"pl:{self.prefix_list.network}:{self.prefix_list.family}"
                             if self.prefix_list else str(b.net))
        return f"sg|{self.segment}|{self.direction}|{peer}|{b.proto}|{b.lo}|{b.hi}"


def other_end(flow: Flow, direction: str) -> Endpoint:
    return flow.dst if direction == EGRESS else flow.src


def families(intent: Intent, segment: str) -> frozenset[int]:
    """IP families a segment's members use: those of its cidrs, or both when it has none.
    A rule for another family could never match a packet, so none is written."""
    cidrs = intent.segments[segment].cidrs
    return frozenset(c.version for c in cidrs) if cidrs else frozenset((4, 6))


def useful(proto: str, fams: frozenset[int]) -> bool:
    """Whether a rule for `proto` can match traffic between ends sharing `fams`."""
    return bool(fams) and not ((proto == "icmp" and 4 not in fams) or (proto == "icmpv6" and 6 not in fams))


def flows_of(intent: Intent, segment: str, direction: str) -> list[Flow]:
    return intent.flows_from(segment) if direction == EGRESS else intent.flows_to(segment)


def serving(flows: list[tuple[Flow, AddressSet]], box: Box) -> tuple[str, ...]:
    """Keys of the flows whose addresses and ports meet the box (for descriptions and tags)."""
    assert box.net is not None
    cell = AddressSet.from_cidrs([box.net])
    return tuple(sorted({f.key for f, addrs in flows
                         if addrs & cell and f.ports & box.ports()}))


def network_cidrs(space: Space, network: str, family: int) -> list[IPNetwork]:
    return [c for c in space.network(network).cidrs() if c.version == family]


def prefix_list_for(space: Space, network: str, family: int, quota: int) -> PrefixList | None:
    """The prefix list a network's family is written as: if it has enough CIDRs,
    and no more than one group can hold (the list weighs its max entries)."""
    cidrs = network_cidrs(space, network, family)
    if PREFIX_LIST_FROM <= len(cidrs) <= min(quota, MAX_PREFIX_LIST_ENTRIES):
        return PrefixList(network, family, tuple(cidrs))
    return None


def segment_rules(intent: Intent, space: Space, seg: str, prefix_lists: bool = True,
                  quota: int = MAX_PREFIX_LIST_ENTRIES) -> list[Rule]:
    """Every rule of one segment's groups (all in group 0 until placed)."""
    flows = {direction: flows_of(intent, seg, direction) for direction in (EGRESS, INGRESS)}
    return _end_rules(intent, space, seg, families(intent, seg), flows, quota if prefix_lists else 0)


def load_balancer_rules(intent: Intent, space: Space, prefix_lists: bool = True,
                        quota: int = MAX_PREFIX_LIST_ENTRIES) -> list[Rule]:
    """The load balancer group's rules: egress to each segment a flow from
    `@load-balancer` reaches (a group Pulumi creates denies all egress), and the
    listener's ingress from each segment or network a flow into it names. The
    load balancer may be dual-stack, so a network is written in both families."""
    flows = {EGRESS: [f for f in intent.flows if f.src.name == LOAD_BALANCER],
             INGRESS: [f for f in intent.flows if f.dst.name == LOAD_BALANCER]}
    return _end_rules(intent, space, LOAD_BALANCER, frozenset((4, 6)), flows,
                      quota if prefix_lists else 0)


def _end_rules(intent: Intent, space: Space, end: str, fams: frozenset[int],
               flows: dict[str, list[Flow]], quota: int) -> list[Rule]:
    """The rules of one end's groups (quota 0: no prefix lists)."""
    rules: list[Rule] = []
    for direction in (EGRESS, INGRESS):
        entries: list[tuple[IPNetwork, PortSet]] = []
        cidr_flows: list[tuple[Flow, AddressSet]] = []
        for flow in flows[direction]:
            peer = other_end(flow, direction)
            if peer.kind == "segment":
                common = fams & families(intent, peer.name)
                for proto, lo, hi in spans(flow.ports):
                    if useful(proto, common):
                        rules.append(Rule(end, direction, Box(proto, lo, hi), peer.name, (flow.key,)))
            elif peer.kind == "network":
                rules += _network_rules(space, end, direction, flow, peer.name, fams, quota, entries)
                cidr_flows.append((flow, space.network(peer.name)))
            elif peer.name == LOAD_BALANCER:  # the load balancer's group, by reference
                rules += [Rule(end, direction, Box(proto, lo, hi), peer.name, (flow.key,))
                          for proto, lo, hi in spans(flow.ports) if useful(proto, fams)]
            elif peer.name in space.endpoints:
                rules += managed_list_rules(space, end, direction, flow, peer.name, fams)
            # other platform endpoints: check has reported them
        for box in pack(entries):
            rules.append(Rule(end, direction, box, None, serving(cidr_flows, box)))
    return rules


def _network_rules(space: Space, seg: str, direction: str, flow: Flow, network: str,
                   fams: frozenset[int], quota: int, entries: list[tuple[IPNetwork, PortSet]]) -> list[Rule]:
    """A network peer's rules per family: one per port range to its prefix list, or
    its CIDRs added to `entries` for packing (quota 0: no prefix lists)."""
    rules = []
    for fam in sorted(fams):
        listed = prefix_list_for(space, network, fam, quota) if quota else None
        if listed is None:
            entries += [(c, flow.ports) for c in network_cidrs(space, network, fam)]
            continue
        probe = listed.entries[0]
        rules += [Rule(seg, direction, Box(proto, lo, hi), None, (flow.key,), listed)
                  for proto, lo, hi in spans(flow.ports) if compatible(proto, probe.version)]
    return rules


def managed_list_rules(space: Space, seg: str, direction: str, flow: Flow, endpoint: str,
                       fams: frozenset[int]) -> list[Rule]:
    """A platform endpoint AWS names by a managed prefix list (IPv4): one rule per port range."""
    if 4 not in fams:
        return []
    resolved = space.endpoints[endpoint]
    listed = PrefixList(endpoint, 4, (), resolved.native, resolved.weight)
    return [Rule(seg, direction, Box(proto, lo, hi), None, (flow.key,), listed)
            for proto, lo, hi in spans(flow.ports) if useful(proto, frozenset({4}))]


def count(rules: list[Rule]) -> dict[tuple[str, int, str, int], int]:
    """Quota use per (segment, group, direction, IP family), as AWS weighs it."""
    out: dict[tuple[str, int, str, int], int] = defaultdict(int)
    for r in rules:
        for fam, w in r.weights.items():
            out[(r.segment, r.group, r.direction, fam)] += w
    return dict(out)
