"""What a target allows, as providers describe it: per segment and direction,
which peers on which ports, in layers that must all agree.

Providers build a `Reachability` in `evaluate` from plan records; the core
(`cloudfence.reach`) joins the two ends of every connection and compares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.intent import Endpoint, Intent
from cloudfence.ports import PortSet

EGRESS, INGRESS = "egress", "ingress"
MAIN = "main"


@dataclass(frozen=True)
class Peer:
    """Who a rule names: segments by identity, platform endpoints, addresses,
    or everything (a rule with no peer restriction)."""

    segments: frozenset[str] = frozenset()
    platform: frozenset[str] = frozenset()
    addresses: AddressSet = field(default_factory=AddressSet)
    everything: bool = False

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


@dataclass(frozen=True)
class Points:
    opaque: frozenset[str] = frozenset()
    addresses: AddressSet = field(default_factory=AddressSet)

    def __bool__(self) -> bool:
        return bool(self.opaque) or bool(self.addresses)

    def __and__(self, o: Points) -> Points:
        return Points(self.opaque & o.opaque, self.addresses & o.addresses)

    def __or__(self, o: Points) -> Points:
        return Points(self.opaque | o.opaque, self.addresses | o.addresses)

    def __sub__(self, o: Points) -> Points:
        return Points(self.opaque - o.opaque, self.addresses - o.addresses)


class Reachability:
    """What one target allows, per segment and direction, in layers.

    Every layer that governs a segment must allow a packet (e.g. security
    group AND network ACL); within a layer the rules are a union. A governed
    segment with no rules in a layer allows nothing in that layer.
    """

    def __init__(self, target: str, governed: Iterable[str]):
        self.target = target
        self.governed = frozenset(governed)
        self._layers: dict[str, frozenset[str]] = {MAIN: self.governed}
        self._rules: dict[tuple[str, str, str], list[tuple[Peer, PortSet]]] = defaultdict(list)

    def add_layer(self, name: str, segments: Iterable[str]) -> None:
        self._layers[name] = frozenset(segments) & self.governed

    def allow(self, segment: str, direction: str, peer: Peer, ports: PortSet,
              layer: str = MAIN) -> None:
        if direction not in (EGRESS, INGRESS):
            raise ValueError(direction)
        if ports and (peer.everything or peer.segments or peer.platform or peer.addresses):
            self._rules[(layer, segment, direction)].append((peer, ports))

    def rules(self, segment: str, direction: str, layer: str = MAIN) -> list[tuple[Peer, PortSet]]:
        return list(self._rules.get((layer, segment, direction), ()))

    def layers_of(self, segment: str) -> list[str]:
        return [name for name, segs in self._layers.items() if segment in segs]
