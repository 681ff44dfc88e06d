"""Network ACLs (settings `nacls: true`): the flows enforced again at subnet level.

NACLs are stateless and name only CIDRs, so a flow A -> B on P needs, on A's
subnet, outbound P to B and inbound from B on the ephemeral ports its replies
come back to (1024-65535 covers Linux, Windows, ELB and NAT gateways), and the
mirror pair on B's subnet. Traffic inside one subnet never crosses its NACL,
so a segment's flow to itself needs entries only when it has several subnets.
Every entry allows; the final `*` deny does the rest, so rule numbers carry no
meaning and are derived from each entry's name: an edit renumbers nothing else
(a new number replaces an entry, and two entries may not share one).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.errors import Problem
from cloudfence.families import segment_families
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.aws.boxes import Box, pack
from cloudfence.providers.aws.names import digest
from cloudfence.providers.aws.network import segment_problem
from cloudfence.providers.aws.rules import EGRESS, INGRESS, flows_of, other_end

EPHEMERAL = IntervalSet.of(1024, 65535)
MAX_RULE_NUMBER = 32766  # 32767 and 32768 are the IPv4 and IPv6 `*` deny


@dataclass(frozen=True)
class Entry:
    segment: str
    egress: bool
    box: Box
    flows: tuple[str, ...] = ()


def returns(ports: PortSet) -> PortSet:
    """What replies to connections on `ports` need in the other direction."""
    if ports.is_any():
        return PortSet.any()
    return PortSet((p, EPHEMERAL if p in ("tcp", "udp") else FULL) for p in ports)


def peer_cidrs(intent: Intent, peer: Endpoint) -> list[IPNetwork]:
    if peer.kind == "segment":
        return list(intent.segments[peer.name].cidrs)
    if peer.kind == "network":
        return intent.networks[peer.name].cidrs()
    return []


def acl_entries(intent: Intent, subnets: dict[str, list[ipaddress.IPv4Network]]) -> list[Entry]:
    out: list[Entry] = []
    for seg, nets in subnets.items():
        fams = segment_families(intent, seg)
        for egress in (True, False):
            entries: list[tuple[IPNetwork, PortSet]] = []
            served: list[tuple[Flow, AddressSet, PortSet]] = []
            for direction in (EGRESS, INGRESS):
                for flow in flows_of(intent, seg, direction):
                    peer = other_end(flow, direction)
                    if peer == Endpoint("segment", seg) and len(nets) == 1:
                        continue  # inside one subnet: the NACL never sees it
                    cidrs = [c for c in peer_cidrs(intent, peer) if c.version in fams]
                    # Outbound carries the requests a segment opens and the replies it sends.
                    ports = flow.ports if (direction == EGRESS) == egress else returns(flow.ports)
                    entries += [(c, ports) for c in cidrs]
                    served.append((flow, AddressSet.from_cidrs(cidrs), ports))
            for box in pack(entries):
                assert box.net is not None  # ACL boxes always name a CIDR
                cell = AddressSet.from_cidrs([box.net])
                keys = {f.key for f, addrs, ports in served if addrs & cell and ports & box.ports()}
                out.append(Entry(seg, egress, box, tuple(sorted(keys))))
    return out


def count(entries: list[Entry]) -> dict[tuple[str, bool, int], int]:
    out: dict[tuple[str, bool, int], int] = defaultdict(int)
    for e in entries:
        assert e.box.net is not None
        out[(e.segment, e.egress, e.box.net.version)] += 1
    return dict(out)


def expressible(intent: Intent, subnets: dict[str, list[ipaddress.IPv4Network]]) -> list[Problem]:
    """NACLs name CIDRs only: a segment peer without addresses cannot be written."""
    problems = []
    for flow in intent.flows:
        for here, there in ((flow.src, flow.dst), (flow.dst, flow.src)):
            if here.kind != "segment" or here.name not in subnets:
                continue
            if there.kind == "segment" and not intent.segments[there.name].cidrs:
                problems.append(intent.problem(flow, (
                    f"network ACLs name peers by address, and segment '{there.name}' has no cidr: "
                    f"give '{there.name}' a cidr or set nacls: false (the security groups alone "
                    f"enforce this flow)")))
                break
    return problems


def quota_problems(intent: Intent, entries: list[Entry], usable: int, quota: int) -> list[Problem]:
    problems = []
    for (seg, egress, fam), n in sorted(count(entries).items()):
        if n > usable:
            way = "outbound" if egress else "inbound"
            problems.append(segment_problem(intent, seg, (
                f"its network ACL needs {n} {way} IPv{fam} rules (return traffic included), but the "
                f"quota of {quota} per direction and IP family leaves {usable} beside the default "
                f"deny: raise settings.rulesPerNetworkAcl (AWS allows up to 40), merge flows, or "
                f"set nacls: false"), key=""))
    return problems


def rule_numbers(names: list[str]) -> dict[str, int]:
    """A number per entry of one NACL direction, from a hash of its name, probing on a clash."""
    taken: set[int] = set()
    out = {}
    for name in sorted(names):
        n = 1 + int(digest(name, 12), 16) % MAX_RULE_NUMBER
        while n in taken:
            n = n % MAX_RULE_NUMBER + 1
        taken.add(n)
        out[name] = n
    return out
