"""First-match rule lists turned into allow-only permissions, exactly.

Azure network security groups and GCP firewall rules are ordered lists of
allow and deny rules: a packet takes the first rule that matches it. The
reachability model is allow-only (a union of permissions), so an ordered list
is read as: each allow, less everything that a rule before it denied. Rules
before it that allowed need not be subtracted, since they allowed the same
packets: the union is the same.

A rule matches a region of peers (any type with `&`, `-` and truthiness, such
as `cloudfence.reachability.Points`) times a port set, so subtracting one rule
from another splits it into at most two pieces: the peers the earlier rule does
not name (every port), and the peers it does name on the ports it does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from cloudfence.ports import PortSet


class Region(Protocol):
    def __and__(self, other: Any, /) -> Any: ...

    def __sub__(self, other: Any, /) -> Any: ...

    def __bool__(self) -> bool: ...


R = TypeVar("R", bound=Region)


@dataclass(frozen=True)
class Ordered(Generic[R]):
    """One rule of an ordered list, already in evaluation order."""

    allow: bool
    region: R
    ports: PortSet


def _minus(piece: tuple[R, PortSet], region: R, ports: PortSet) -> list[tuple[R, PortSet]]:
    own, own_ports = piece
    common = own & region
    shared = own_ports & ports
    if not common or not shared:
        return [piece]
    out = []
    rest = own - region
    if rest:
        out.append((rest, own_ports))
    other_ports = own_ports - ports
    if other_ports:
        out.append((common, other_ports))
    return out


def first_match(rules: Iterable[Ordered[R]]) -> list[tuple[R, PortSet]]:
    """What an ordered allow/deny list lets through, as allow-only (region, ports)
    pieces whose union is exact. Rules after a total deny add nothing."""
    denied: list[tuple[R, PortSet]] = []
    out: list[tuple[R, PortSet]] = []
    for rule in rules:
        if not rule.region or not rule.ports:
            continue
        if rule.allow:
            pieces = [(rule.region, rule.ports)]
            for region, ports in denied:
                pieces = [p for piece in pieces for p in _minus(piece, region, ports)]
                if not pieces:
                    break
            out.extend(pieces)
        else:
            denied.append((rule.region, rule.ports))
    return out
