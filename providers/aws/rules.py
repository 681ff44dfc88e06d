"""Security group rules: what each segment's group must allow, one rule per
(peer, protocol, port range), and how AWS counts them against the quota.

A flow A -> B gives an egress rule on A and an ingress rule on B. Segment
peers are named by their group (identity: scaling a segment changes no rule);
networks by their CIDRs, exclusions already subtracted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.families import segment_families, useful
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.ports import PortSet
from cloudfence.providers.aws.boxes import Box, pack, spans

EGRESS, INGRESS = "egress", "ingress"


@dataclass(frozen=True)
class Rule:
    segment: str
    direction: str  # "ingress" | "egress"
    box: Box
    peer: str | None = None  # the segment whose group the rule references
    flows: tuple[str, ...] = ()  # keys of the spec flows the rule serves

    @property
    def families(self) -> tuple[int, ...]:
        """IP families whose quota the rule uses: a group reference counts for both
        ("counts as one rule for IPv4 and one rule for IPv6", amazon-vpc-limits)."""
        return (4, 6) if self.box.net is None else (self.box.net.version,)


def other_end(flow: Flow, direction: str) -> Endpoint:
    return flow.dst if direction == EGRESS else flow.src


def flows_of(intent: Intent, segment: str, direction: str) -> list[Flow]:
    return intent.flows_from(segment) if direction == EGRESS else intent.flows_to(segment)


def serving(flows: list[tuple[Flow, AddressSet]], box: Box) -> tuple[str, ...]:
    """Keys of the flows whose addresses and ports meet the box (for descriptions and tags)."""
    assert box.net is not None
    cell = AddressSet.from_cidrs([box.net])
    return tuple(sorted({f.key for f, addrs in flows
                         if addrs & cell and f.ports & box.ports()}))


def security_group_rules(intent: Intent) -> list[Rule]:
    rules: list[Rule] = []
    for seg in intent.segments:
        fams = segment_families(intent, seg)
        for direction in (EGRESS, INGRESS):
            entries: list[tuple[IPNetwork, PortSet]] = []
            cidr_flows: list[tuple[Flow, AddressSet]] = []
            for flow in flows_of(intent, seg, direction):
                peer = other_end(flow, direction)
                if peer.kind == "segment":
                    common = fams & segment_families(intent, peer.name)
                    for proto, lo, hi in spans(flow.ports):
                        if useful(proto, common):
                            rules.append(Rule(seg, direction, Box(proto, lo, hi), peer.name, (flow.key,)))
                elif peer.kind == "network":
                    net = intent.networks[peer.name]
                    entries += [(c, flow.ports) for c in net.cidrs() if c.version in fams]
                    cidr_flows.append((flow, net.addresses))
                # platform endpoints: AWS knows none; check has reported them
            for box in pack(entries):
                rules.append(Rule(seg, direction, box, None, serving(cidr_flows, box)))
    return rules


def count(rules: list[Rule]) -> dict[tuple[str, str, int], int]:
    """Rules per (segment, direction, IP family), as AWS counts them."""
    out: dict[tuple[str, str, int], int] = defaultdict(int)
    for r in rules:
        for fam in r.families:
            out[(r.segment, r.direction, fam)] += 1
    return dict(out)
