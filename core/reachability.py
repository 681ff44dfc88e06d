"""What a target allows, as providers describe it: per end and direction, which
peers on which ports, in layers that must all agree; and the open world the
target lives in (who else can send or receive, and how its rules name them).

Providers build a `Reachability` in `evaluate` from plan records; the core
(`cloudfence.reach`) joins the two ends of every connection and compares the
result with the flows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.intent import Endpoint, Intent
from cloudfence.ports import PROTOCOLS, PortSet

EGRESS, INGRESS = "egress", "ingress"
_NO_ADDRESSES = AddressSet()
MAIN = "main"
#: How a rule's addresses reach a point known by identity (a segment without a
#: cidr, a pod): any overlap with where it may be, the whole of it, or never.
OVERLAP, SUPERSET, NEVER = "overlap", "superset", "never"


@dataclass(frozen=True)
class Peer:
    """Who a rule names: segments by identity, platform endpoints and declared
    background ends by name, addresses, or everything (no peer restriction)."""

    segments: frozenset[str] = frozenset()
    platform: frozenset[str] = frozenset()
    addresses: AddressSet = field(default_factory=AddressSet)
    everything: bool = False
    others: frozenset[str] = frozenset()  # declared background ends (Reachability.declare)
    # Segments the rule reaches some members of only (a pod selector narrower than the
    # segment's labels): counted for "nothing extra", never for "nothing missing".
    partly: frozenset[str] = frozenset()

    @classmethod
    def segment(cls, name: str) -> Peer:
        return cls(segments=frozenset([name]))

    @classmethod
    def cidrs(cls, nets: Iterable[IPNetwork | str]) -> Peer:
        return cls(addresses=AddressSet.from_cidrs(nets))

    @classmethod
    def all(cls) -> Peer:
        return cls(everything=True)

    @classmethod
    def of(cls, endpoint: Endpoint, intent: Intent) -> Peer:
        if endpoint.kind == "segment":
            return cls.segment(endpoint.name)
        if endpoint.kind == "platform":
            return cls(platform=frozenset([endpoint.name]))
        return cls(addresses=intent.networks[endpoint.name].addresses)

    def __hash__(self) -> int:
        """Kept: verify looks one peer up many times (its points, per reading)."""
        try:
            return self.__dict__["_hash"]  # type: ignore[no-any-return]
        except KeyError:
            h = hash((self.segments, self.platform, self.addresses, self.everything, self.others,
                      self.partly))
            object.__setattr__(self, "_hash", h)
            return h

    def __getstate__(self) -> dict[str, Any]:
        # Never carry the kept hash to another process: string hashes differ between them.
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def names_something(self) -> bool:
        return bool(self.everything or self.segments or self.platform or self.addresses or self.others
                    or self.partly)


_set = object.__setattr__
_NO_NAMES: frozenset[str] = frozenset()


class Points:
    """Immutable: points known by identity (names) and by address. Built and combined
    very often by verify's rule walks, so a plain slotted class, its hash kept."""

    __slots__ = ("_hash", "addresses", "opaque")
    opaque: frozenset[str]
    addresses: AddressSet
    _hash: int

    def __init__(self, opaque: frozenset[str] = _NO_NAMES, addresses: AddressSet = _NO_ADDRESSES) -> None:
        _set(self, "opaque", opaque)
        _set(self, "addresses", addresses)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Points is immutable: cannot set {name}")

    def __reduce__(self) -> tuple[type[Points], tuple[frozenset[str], AddressSet]]:
        return (Points, (self.opaque, self.addresses))

    def __eq__(self, o: object) -> bool:
        return self is o or (isinstance(o, Points) and self.opaque == o.opaque
                             and self.addresses == o.addresses)

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = hash((self.opaque, self.addresses))
            _set(self, "_hash", h)
            return h

    def __repr__(self) -> str:
        return f"Points(opaque={self.opaque!r}, addresses={self.addresses!r})"

    def __bool__(self) -> bool:
        return bool(self.opaque) or bool(self.addresses)

    # Most points have no names, or only names: the set operations skip the empty side.
    def __and__(self, o: Points) -> Points:
        a, b = self.opaque, o.opaque
        return Points(a & b if a and b else _NO_NAMES, self.addresses & o.addresses)

    def __or__(self, o: Points) -> Points:
        a, b = self.opaque, o.opaque
        return Points(a | b if a and b else a or b, self.addresses | o.addresses)

    def __sub__(self, o: Points) -> Points:
        a, b = self.opaque, o.opaque
        return Points(a - b if a and b else a, self.addresses - o.addresses)


@dataclass(frozen=True)
class Background:
    """An end that is no segment but has rules of its own on the target (pods
    of no segment, the cluster DNS pods): where it may be, and what it is."""

    region: AddressSet
    label: str


class Reachability:
    """What one target allows, per end and direction, in layers.

    Ends are the governed segments and the declared background ends. Every
    layer that governs an end must allow a packet (e.g. security group AND
    network ACL); within a layer the rules are a union. An end with no rules
    in a layer allows nothing in that layer. Points that are no end (addresses
    outside every governed segment, platform endpoints) are unrestricted at
    their own end.
    """

    def __init__(self, target: str, governed: Iterable[str]):
        self.target = target
        self.governed = frozenset(governed)
        self._layers: dict[str, frozenset[str]] = {MAIN: self.governed}
        self._rules: dict[tuple[str, str, str], list[tuple[Peer, PortSet]]] = defaultdict(list)
        self.background: dict[str, Background] = {}
        self.regions: dict[str, AddressSet] = {}
        self.opaque_segments: set[str] = set()
        #: (wide, narrow): the reading for "nothing extra" and for "nothing missing".
        self.address_match: tuple[str, str] = (OVERLAP, SUPERSET)
        self.reading_note = ""  # what the wide reading assumes, shown where it alone allows a flow
        self.phantom = AddressSet()
        self.judged_protocols: frozenset[str] = frozenset(PROTOCOLS)
        self.assumptions: list[str] = []
        self.identities: dict[str, dict[str, Any]] = {}
        #: The governed segments and the declared ends the target governs: verify judges
        #: every connection with one of them at an end.
        self.judged_ends: frozenset[str] = self.governed
        #: Per platform endpoint, the declared ends that are part of it (Kubernetes: the
        #: ingress controller pods are `@load-balancer`): a flow naming it names them.
        self.endpoint_members: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------ the world

    def declare(self, name: str, region: AddressSet, label: str, judged: bool = False) -> None:
        """A background end: an opaque point with rules of its own, named by
        `Peer(others={name})`. Give it rules with `allow` (none = denies all).
        `judged`: the target governs it (the load balancer's own security group), so
        what it admits and sends is judged like a governed segment's."""
        self.background[name] = Background(region, label)
        self._layers[MAIN] = self._layers[MAIN] | {name}
        if judged:
            self.judged_ends = self.judged_ends | {name}

    def region(self, name: str, addresses: AddressSet) -> None:
        """Where a point known by identity may be (a segment without a cidr, a
        platform endpoint); address rules reach it according to `address_match`."""
        self.regions[name] = addresses

    def opaque(self, segment: str) -> None:
        """Know a segment with a cidr by identity only (pods): its cidr is where it
        may be, and no other host holds those addresses."""
        self.opaque_segments.add(segment)

    def identity(self, segment: str, values: Mapping[str, Any]) -> None:
        """What the records grant a segment (its group, ASG, tag, labels): verify
        checks that the plan exports exactly this for the segment."""
        self.identities[segment] = dict(values)

    @property
    def ends(self) -> frozenset[str]:
        return self.governed | frozenset(self.background)

    # ------------------------------------------------------------ the rules

    def add_layer(self, name: str, segments: Iterable[str]) -> None:
        self._layers[name] = frozenset(segments) & self.ends

    def allow(self, segment: str, direction: str, peer: Peer, ports: PortSet,
              layer: str = MAIN) -> None:
        if direction not in (EGRESS, INGRESS):
            raise ValueError(direction)
        if ports and peer.names_something():
            self._rules[(layer, segment, direction)].append((peer, ports))

    def rules(self, segment: str, direction: str, layer: str = MAIN) -> list[tuple[Peer, PortSet]]:
        return list(self._rules.get((layer, segment, direction), ()))

    def layers_of(self, segment: str) -> list[str]:
        return [name for name, segs in self._layers.items() if segment in segs]
