"""What a spec's names mean as addresses on one target (DESIGN section 3).

`internet` is public space: outside the private ranges, less the public parts of
the target's internal space, every segment's cidr and the deployment's own
egress addresses. A network is its addresses less every segment's cidr, so that
segments meet only through flows, and less the metadata service where the target
resolves `@instance-metadata`, so that only a flow to it opens it. Segments
without a cidr live somewhere in the internal space (or anywhere in the private
ranges while it is unknown): that is their *hidden* region, which address rules
may reach. A platform endpoint the target resolves
(`cloudfence.endpoints.Resolved`) reads like a network under its `@name`: its
addresses less every segment's cidr, and, when they are public, less what
`internet` leaves out too.

Every provider compiles these sets, and verify judges against them, so they
live here once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from cloudfence.addresses import GLOBAL_V6, PRIVATE, AddressSet, IPNetwork
from cloudfence.endpoints import INSTANCE_METADATA, Resolved
from cloudfence.intent import INTERNET, Block, Endpoint, Flow, Intent

#: The includes `internet` is written from where a target takes include/except blocks.
PUBLIC_INCLUDES = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network(GLOBAL_V6))


@dataclass(frozen=True)
class Space:
    """The address meaning of every endpoint on one target.

    `internal` is the target's internal space when known (VPC CIDRs, virtual
    network address space, subnetwork ranges, pod and service CIDRs);
    `egress_ips` the deployment's own NAT and egress addresses; `endpoints`
    what each platform endpoint the target resolves stands for.
    """

    intent: Intent
    internal: AddressSet | None = None
    egress_ips: AddressSet = field(default_factory=AddressSet)
    endpoints: Mapping[str, Resolved] = field(default_factory=dict)

    @cached_property
    def segment_addresses(self) -> AddressSet:
        return AddressSet.of_all(seg.addresses for seg in self.intent.segments.values())

    @cached_property
    def hidden(self) -> AddressSet:
        """Where members of a segment without a cidr may be."""
        base = self.internal if self.internal is not None else PRIVATE
        return base - self.segment_addresses

    @cached_property
    def _networks(self) -> dict[str, AddressSet]:
        out = {}
        # Where a target filters the metadata service, it is its own endpoint: a network
        # over it (0.0.0.0/0, 169.254.0.0/16) leaves it out, only a flow to it opens it.
        metadata = self.endpoints[INSTANCE_METADATA].addresses if INSTANCE_METADATA in self.endpoints \
            else AddressSet()
        for name, net in self.intent.networks.items():
            listed = net.addresses
            if name == INTERNET and net.builtin:
                listed = listed - (self.internal or AddressSet()) - self.egress_ips
            out[name] = listed - self.segment_addresses - metadata
        for name, resolved in self.endpoints.items():
            listed = resolved.addresses
            if resolved.public:
                listed = listed - (self.internal or AddressSet()) - self.egress_ips
            out[name] = listed - self.segment_addresses
        return out

    def network(self, name: str) -> AddressSet:
        """The exact addresses a network (or `internet`, or a resolved platform
        endpoint) stands for on this target."""
        return self._networks[name]

    def addresses(self, endpoint: Endpoint) -> AddressSet:
        if endpoint.kind == "segment":
            return self.intent.segments[endpoint.name].addresses
        if endpoint.kind == "network" or endpoint.name in self.endpoints:
            return self.network(endpoint.name)
        return AddressSet()

    def includes(self, name: str) -> tuple[IPNetwork, ...]:
        """The CIDRs a network is written from: its includes, or for the built-in
        `internet` (and a public endpoint) 0.0.0.0/0 and 2000::/3."""
        if name in self.endpoints:
            resolved = self.endpoints[name]
            return PUBLIC_INCLUDES if resolved.public else tuple(resolved.addresses.cidrs())
        net = self.intent.networks[name]
        if name == INTERNET and net.builtin:
            return PUBLIC_INCLUDES
        return tuple(b.cidr for b in net.blocks)

    def blocks(self, name: str, also_except: AddressSet | None = None) -> list[Block]:
        """The network as include-and-except blocks (the Kubernetes ipBlock shape):
        each include with the exact exclusions inside it, every `except` a strict
        subset of its cidr, and no block that would allow nothing."""
        exact = self.network(name)
        if also_except is not None:
            exact = exact - also_except
        out: list[Block] = []
        for inc in self.includes(name):
            whole = AddressSet.from_cidrs([inc])
            kept = exact & whole
            if not kept:
                continue
            hull = _hull(kept, inc)
            excepts = (AddressSet.from_cidrs(hull) - kept).cidrs()
            out.extend(Block(c, tuple(e for e in excepts if e.subnet_of(c)))  # type: ignore[arg-type]
                       for c in hull)
        return out

    def families(self, endpoint: Endpoint) -> frozenset[int]:
        """IP families an endpoint can hold addresses of (a segment without a cidr: both)."""
        if endpoint.kind == "segment":
            cidrs = self.intent.segments[endpoint.name].cidrs
            return frozenset(c.version for c in cidrs) if cidrs else frozenset((4, 6))
        if endpoint.kind == "platform" and self._has_members(endpoint.name):
            return frozenset((4, 6))  # pods among it: of either family
        if endpoint.kind == "network" or endpoint.name in self.endpoints:
            a = self.network(endpoint.name)
            return frozenset(v for v, ivs in ((4, a.v4), (6, a.v6)) if ivs)
        return frozenset((4, 6))

    def _has_members(self, name: str) -> bool:
        return name in self.endpoints and bool(self.endpoints[name].members)

    def dead_flows(self, flows: Iterable[Flow]) -> list[tuple[Flow, str]]:
        """Flows that can never carry a packet on this target, and why."""
        out = []
        for f in flows:
            empty = [e for e in (f.src, f.dst) if (e.kind == "network" or e.name in self.endpoints)
                     and not self.network(e.name) and not self._has_members(e.name)]
            if empty:
                what = "network" if empty[0].kind == "network" else "platform endpoint"
                if empty[0].kind == "network" and INSTANCE_METADATA in self.endpoints and \
                        self.intent.networks[empty[0].name].addresses.issubset(
                            self.endpoints[INSTANCE_METADATA].addresses):
                    out.append((f, f"network '{empty[0]}' is the instance metadata service, which is "
                                f"'{INSTANCE_METADATA}' on this target (networks leave it out): write "
                                f"the flow to '{INSTANCE_METADATA}'"))
                    continue
                out.append((f, f"{what} '{empty[0]}' holds no address on this target (segment cidrs, "
                            "the internal space and egressIps are taken out of it): no packet can pass; "
                            "name the segment in the flow, or give the network addresses outside "
                            "every segment"))
                continue
            fams = self.families(f.src) & self.families(f.dst)
            if not fams:
                out.append((f, f"'{f.src}' and '{f.dst}' share no address family (one is IPv4 only, "
                            "the other IPv6 only): no packet can pass; give both a cidr of one family"))
                continue
            usable = [p for p in f.ports
                      if not (p == "icmp" and 4 not in fams) and not (p == "icmpv6" and 6 not in fams)]
            if not usable:
                out.append((f, f"{', '.join(f.ports)} cannot pass between '{f.src}' and '{f.dst}' "
                            f"(they share only IPv{min(fams)}): use "
                            f"{'icmp' if 4 in fams else 'icmpv6'} or give them a cidr of the other family"))
        return out


def _hull(kept: AddressSet, inc: IPNetwork) -> list[IPNetwork]:
    """The include itself, unless what is kept of it is small enough that naming
    its pieces beats one huge include with many exceptions."""
    pieces = kept.cidrs()
    if len(pieces) <= 1:
        return pieces
    return [inc]


def space_for(intent: Intent, settings: object | None = None) -> Space:
    """The space of a target from its validated settings (`ProviderSettings`)."""
    internal = getattr(settings, "internal_space", None)
    egress = getattr(settings, "egress_ips", None)
    endpoints = getattr(settings, "platform_endpoints", None)
    return Space(intent, internal() if callable(internal) else None,
                 egress() if callable(egress) else AddressSet(),
                 endpoints() if callable(endpoints) else {})
