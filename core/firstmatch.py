"""First-match rule lists (GCP firewall rules, Azure NSG rules, ACLs) turned
into allow-only sets, exactly.

A target that evaluates ordered allow and deny rules decides each packet by
the first rule that matches it. The reachability model holds only allows, as
a union, so the walk need not find which allow decides a packet: a packet is
allowed exactly when some allow matches it and no deny before that allow does
(the first rule to match it is then that allow or an earlier one, which cannot
be a deny). So each allow keeps its match less the denies before it, and the
earlier allows are never taken out. Where a list puts its allows above its
denies, as every plan cloudfence writes does, the allows are read as they are.

Rules match *points*: any set type with `&`, `|`, `-` and truth (an
`AddressSet`, or a `Scope` when rules also name workloads by identity) times a
`PortSet`. The denies so far are kept per port set, so the work grows with the
distinct port sets they carve, not with the number of rules squared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, Self, TypeVar

from cloudfence.addresses import AddressSet
from cloudfence.ports import PortSet


class PointSet(Protocol):
    def __and__(self, other: Self) -> Self: ...
    def __or__(self, other: Self) -> Self: ...
    def __sub__(self, other: Self) -> Self: ...
    def __bool__(self) -> bool: ...


M = TypeVar("M", bound=PointSet)
T = TypeVar("T")


@dataclass(frozen=True)
class Rule(Generic[M, T]):
    """One ordered rule: lower `priority` first; at equal priority a deny wins
    (GCP), and targets with unique priorities (Azure) never tie. `label` is
    whatever the caller needs back with the rule's hits (its record, what it names)."""

    priority: int
    allow: bool
    match: M
    ports: PortSet
    label: T | None = None


@dataclass(frozen=True)
class Hit(Generic[M, T]):
    """What one allow rule lets through: its points and ports that no earlier deny
    took. Hits of different allows may overlap; together they are the allow set."""

    rule: Rule[M, T]
    points: M
    ports: PortSet


def first_match(rules: Iterable[Rule[M, T]], universe: M) -> list[Hit[M, T]]:
    """The allow-only reading of an ordered rule list over `universe` x every port.
    Whatever no rule matches is left out (the caller adds the target's implied
    rule as the last rule if it has one)."""
    order = sorted(enumerate(rules), key=lambda ir: (ir[1].priority, ir[1].allow, ir[0]))
    denied: dict[PortSet, M] = {}  # what the denies so far match, within universe
    hits: list[Hit[M, T]] = []
    for _, rule in order:
        if not rule.ports or not rule.match:
            continue
        if not rule.allow:
            _keep(denied, rule.ports, rule.match & universe)
            if rule.ports.is_any() and not universe - rule.match:
                break  # everything is decided: no later rule matches anything undecided
            continue
        left: dict[PortSet, M] = {}
        _keep(left, rule.ports, rule.match & universe)
        for deny_ports, deny_points in denied.items():
            left = _without(left, deny_ports, deny_points)
            if not left:
                break
        hits.extend(Hit(rule, points, ports) for ports, points in left.items())
    return hits


def _without(pieces: dict[PortSet, M], deny_ports: PortSet, deny_points: M) -> dict[PortSet, M]:
    """`pieces` less one deny's points x ports, still one entry per port set."""
    rest: dict[PortSet, M] = {}
    for ports, points in pieces.items():
        # Ports first: a deny of other services shares no port with most pieces, and
        # that test is far cheaper than the points' intersection.
        hit_ports = ports & deny_ports
        inside = points & deny_points if hit_ports else None
        if not inside:
            _keep(rest, ports, points)
            continue
        _keep(rest, ports, points - deny_points)
        _keep(rest, ports - deny_ports, inside)
    return rest


def _keep(rest: dict[PortSet, M], ports: PortSet, points: M) -> None:
    if ports and points:
        rest[ports] = rest[ports] | points if ports in rest else points


_EMPTY = AddressSet()
_set = object.__setattr__


class Scope:
    """Points of a network where rules name workloads both by address and by
    identity (a network tag, a service account, an application security group).

    `plain` are hosts known only by address. Each identity in `held` stands for
    the workloads that carry it, with the addresses they may hold: a rule by
    range matches the part of each identity inside the range, a rule by identity
    all of it. So a deny by range above an allow by identity is read exactly.
    Immutable and slotted: the rule walk builds one per step.
    """

    __slots__ = ("held", "plain")
    plain: AddressSet
    held: tuple[tuple[str, AddressSet], ...]

    def __init__(self, plain: AddressSet = _EMPTY, held: tuple[tuple[str, AddressSet], ...] = ()) -> None:
        _set(self, "plain", plain)
        _set(self, "held", held)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Scope is immutable: cannot set {name}")

    def __reduce__(self) -> tuple[type[Scope], tuple[AddressSet, tuple[tuple[str, AddressSet], ...]]]:
        return (Scope, (self.plain, self.held))

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Scope) and self.plain == o.plain and self.held == o.held

    def __hash__(self) -> int:
        return hash((self.plain, self.held))

    def __repr__(self) -> str:
        return f"Scope(plain={self.plain!r}, held={self.held!r})"

    @classmethod
    def addresses(cls, addresses: AddressSet, regions: Mapping[str, AddressSet]) -> Scope:
        """A rule by range: these addresses, whoever holds them."""
        return cls(addresses, tuple((name, addresses & region) for name, region in sorted(regions.items())
                                    if addresses & region))

    @classmethod
    def identity(cls, name: str, region: AddressSet) -> Scope:
        """A rule by identity: every workload carrying `name`, wherever it is."""
        return cls(held=((name, region),) if region else ())

    def part(self, name: str) -> AddressSet:
        return dict(self.held).get(name, AddressSet())

    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.held)

    def _combine(self, other: Scope, op: Callable[[AddressSet, AddressSet], AddressSet]) -> Scope:
        if not self.held and not other.held:  # addresses alone: the common case, no identity named
            return Scope(op(self.plain, other.plain))
        mine, theirs = dict(self.held), dict(other.held)
        held = []
        for name in sorted(set(mine) | set(theirs)):
            value = op(mine.get(name, _EMPTY), theirs.get(name, _EMPTY))
            if value:
                held.append((name, value))
        return Scope(op(self.plain, other.plain), tuple(held))

    def __and__(self, other: Scope) -> Scope:
        return self._combine(other, AddressSet.__and__)

    def __or__(self, other: Scope) -> Scope:
        return self._combine(other, AddressSet.__or__)

    def __sub__(self, other: Scope) -> Scope:
        return self._combine(other, AddressSet.__sub__)

    def __bool__(self) -> bool:
        return bool(self.held) or bool(self.plain)
