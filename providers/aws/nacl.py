"""Network ACLs (settings `nacls: true`): the flows enforced again at subnet level.

NACLs are stateless and name only CIDRs, so a flow A -> B on P needs, on A's
subnet, outbound P to B and inbound from B on the ephemeral ports its replies
come back to (1024-65535 covers Linux, Windows, ELB and NAT gateways), and the
mirror pair on B's subnet. Traffic inside one subnet never crosses its NACL,
so a segment's flow to itself needs entries only when it has several subnets.
Networks are what they mean on this target (`Space.network`). A network that
is a wide include less a few exceptions (`internet`: 0.0.0.0/0 less the
private ranges, the VPC and egressIps) is written the way a NACL does best:
after every plain allow, deny the exceptions, then allow the include; that
is exact as long as no such network holds another one's exceptions, and
costs a handful of entries instead of 47 per port range. Entries are numbered
in three bands (plain allows, denies, wide allows); within a band the number
derives from the entry's name, so an edit renumbers nothing else (a new
number replaces an entry, and two entries may not share one).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.errors import Problem
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ports import FULL, MAX_PORT, PortSet
from cloudfence.providers.aws.boxes import ANY, Box, pack
from cloudfence.providers.aws.names import digest
from cloudfence.providers.aws.rules import EGRESS, INGRESS, families, flows_of, other_end
from cloudfence.space import Space

EPHEMERAL = IntervalSet.of(1024, 65535)
MAX_RULE_NUMBER = 32766  # 32767 and 32768 are the IPv4 and IPv6 `*` deny
PLAIN, DENY, WIDE = 0, 1, 2  # rule number bands, evaluated in this order
BANDS = {PLAIN: (1, 19999), DENY: (20000, 24999), WIDE: (25000, MAX_RULE_NUMBER)}


@dataclass(frozen=True)
class Entry:
    segment: str
    egress: bool
    box: Box
    flows: tuple[str, ...] = ()
    band: int = PLAIN

    @property
    def allow(self) -> bool:
        return self.band != DENY


def returns(ports: PortSet) -> PortSet:
    """What replies to connections on `ports` need in the other direction."""
    if ports.is_any():
        return PortSet.any()
    return PortSet((p, EPHEMERAL if p in ("tcp", "udp") else FULL) for p in ports)


def peer_addresses(intent: Intent, space: Space, peer: Endpoint) -> AddressSet:
    if peer.kind == "segment":
        return intent.segments[peer.name].addresses
    if peer.kind == "network" or peer.name in space.endpoints:
        return space.network(peer.name)  # a prefix list endpoint: where it may be
    return AddressSet()


def _only(addresses: AddressSet, fams: frozenset[int]) -> AddressSet:
    return AddressSet(addresses.v4 if 4 in fams else IntervalSet(),
                      addresses.v6 if 6 in fams else IntervalSet())


def _wide_form(space: Space, network: str, fams: frozenset[int]) -> tuple[list[IPNetwork], AddressSet] | None:
    """(includes, exceptions) when deny-then-allow is shorter than the exact CIDRs."""
    exact = _only(space.network(network), fams)
    blocks = [b for b in space.blocks(network) if b.cidr.version in fams]
    excepts = AddressSet.from_cidrs([e for b in blocks for e in b.excepts])
    if not excepts or len(blocks) + len(excepts.cidrs()) >= len(exact.cidrs()):
        return None
    return [b.cidr for b in blocks], excepts


def acl_entries(intent: Intent, subnets: dict[str, list[ipaddress.IPv4Network]],
                space: Space) -> list[Entry]:
    out: list[Entry] = []
    for seg, nets in subnets.items():
        fams = families(intent, seg)
        for egress in (True, False):
            # (peer, addresses, ports, flow) of everything this direction carries
            wants: list[tuple[Endpoint, AddressSet, PortSet, Flow]] = []
            for direction in (EGRESS, INGRESS):
                for flow in flows_of(intent, seg, direction):
                    peer = other_end(flow, direction)
                    if peer == Endpoint("segment", seg) and len(nets) == 1:
                        continue  # inside one subnet: the NACL never sees it
                    # Outbound carries the requests a segment opens and the replies it sends.
                    ports = flow.ports if (direction == EGRESS) == egress else returns(flow.ports)
                    wants.append((peer, _only(peer_addresses(intent, space, peer), fams), ports, flow))
            out += _direction_entries(seg, egress, wants, space, fams)
    return out


def _direction_entries(seg: str, egress: bool, wants: list[tuple[Endpoint, AddressSet, PortSet, Flow]],
                       space: Space,
                       fams: frozenset[int]) -> list[Entry]:
    """One NACL direction: plain allows, then the wide networks' exceptions denied, then their includes."""
    forms = {}
    for peer, _, _, _ in wants:
        if (peer.kind == "network" or peer.name in space.endpoints) and peer.name not in forms:
            form = _wide_form(space, peer.name, fams)
            if form is not None:
                forms[peer.name] = form
    chosen: dict[str, tuple[list[IPNetwork], AddressSet]] = {}
    denied = AddressSet()
    exact = {peer.name: addrs for peer, addrs, _, _ in wants}
    # Largest saving first; a wide network may not hold another one's exceptions.
    for name in sorted(forms, key=lambda n: (-len(exact[n].cidrs()), n)):
        includes, excepts = forms[name]
        if exact[name] & denied or any(exact[c] & excepts for c in chosen):
            continue
        chosen[name] = (includes, excepts)
        denied = denied | excepts
    plain: list[tuple[IPNetwork, PortSet]] = []
    wide: list[tuple[IPNetwork, PortSet]] = []
    served: list[tuple[str, AddressSet, PortSet]] = []
    for peer, addrs, ports, flow in wants:
        if peer.name in chosen:
            includes = chosen[peer.name][0]
            wide += [(c, ports) for c in includes]
            served.append((flow.key, AddressSet.from_cidrs(includes), ports))
        else:
            plain += [(c, ports) for c in addrs.cidrs()]
            served.append((flow.key, addrs, ports))
    out = []
    for band, items in ((PLAIN, plain), (WIDE, wide)):
        for box in pack(items):
            assert box.net is not None  # entries always name a CIDR
            cell = AddressSet.from_cidrs([box.net])
            keys = {k for k, addrs, ports in served if addrs & cell and ports & box.ports()}
            out.append(Entry(seg, egress, box, tuple(sorted(keys)), band))
    for net in denied.cidrs():
        keys = {n for n, (_, ex) in chosen.items() if ex & AddressSet.from_cidrs([net])}
        out.append(Entry(seg, egress, Box(ANY, 0, MAX_PORT, net), tuple(sorted(keys)), DENY))
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
            problems.append(intent.segment_problem(seg, (
                f"its network ACL needs {n} {way} IPv{fam} rules (return traffic included), but the "
                f"quota of {quota} per direction and IP family leaves {usable} beside the default "
                f"deny: raise settings.rulesPerNetworkAcl (AWS allows up to 40), merge flows, or "
                f"set nacls: false"), key=""))
    return problems


def rule_numbers(names: list[tuple[str, int]]) -> dict[str, int]:
    """A number per entry of one NACL direction, in its band, from a hash of its
    name, probing within the band on a clash."""
    taken: set[int] = set()
    out = {}
    for name, band in sorted(names):
        lo, hi = BANDS[band]
        size = hi - lo + 1
        n = lo + int(digest(name, 12), 16) % size
        while n in taken:
            n = lo + (n - lo + 1) % size
        taken.add(n)
        out[name] = n
    return out
