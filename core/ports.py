"""Protocols and port sets: the neutral vocabulary every provider maps from.

A port set maps each protocol to the ports it allows. Protocols without ports
(ICMP, ICMPv6 and "other", which stands for every IP protocol not named here)
carry the full range so that one representation serves them all. `any` is
every protocol with every port, including "other".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping

from cloudfence.intervals import IntervalSet

PORTED = ("tcp", "udp", "sctp")
PORTLESS = ("icmp", "icmpv6", "other")
PROTOCOLS = PORTED + PORTLESS
_RANK = frozenset(PROTOCOLS)
MAX_PORT = 65535
FULL = IntervalSet.of(0, MAX_PORT)

RESERVED = ("tcp", "udp", "sctp", "icmp", "icmpv6", "any")  # literals: never service names
_LITERAL = re.compile(r"(?P<proto>[a-z0-9]+)(?:/(?P<lo>[0-9]+)(?:-(?P<hi>[0-9]+))?)?")


class PortError(ValueError):
    """A port literal that cannot be read; the message says how to write it."""


class PortSet:
    """An immutable map protocol -> allowed ports; empty protocols are dropped."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, IntervalSet] | Iterable[tuple[str, IntervalSet]] = ()):
        # Readers build one from every rule they read: the checks below are the costly part.
        pairs = items.items() if type(items) is dict or isinstance(items, Mapping) else items
        merged: dict[str, IntervalSet] = {}
        for proto, ports in pairs:
            if proto not in _RANK:
                raise ValueError(f"unknown protocol {proto!r}")
            if proto in PORTLESS and ports:
                ports = FULL
            merged[proto] = merged[proto] | ports if proto in merged else ports
        if len(merged) == 1:
            ((proto, ports),) = merged.items()
            self._items: tuple[tuple[str, IntervalSet], ...] = ((proto, ports),) if ports else ()
        else:
            self._items = tuple((p, merged[p]) for p in PROTOCOLS if merged.get(p))

    @classmethod
    def any(cls) -> PortSet:
        return _ANY

    def items(self) -> tuple[tuple[str, IntervalSet], ...]:
        return self._items

    def __iter__(self) -> Iterator[str]:
        return (p for p, _ in self._items)

    def get(self, proto: str) -> IntervalSet:
        for p, ports in self._items:
            if p == proto:
                return ports
        return IntervalSet()

    def is_any(self) -> bool:
        return self._items == _ANY._items

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self._items == other._items

    def __reduce__(self) -> tuple[type[PortSet], tuple[tuple[tuple[str, IntervalSet], ...]]]:
        return (PortSet, (self._items,))  # the kept hash is of strings: never carried across processes

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:  # computed once: port sets key the rule walk's maps
            self._hash: int = hash(self._items)
            return self._hash

    def __or__(self, other: PortSet) -> PortSet:
        return PortSet(self._items + other._items)

    def __and__(self, other: PortSet) -> PortSet:
        if other is _ANY or self is other:
            return self
        if self is _ANY:
            return other
        return _remembered(_MEETS, self, other, PortSet._meet)

    def _meet(self, other: PortSet) -> PortSet:
        b = other._items
        if len(b) == 1:  # one protocol: the common case of a rule's ports
            proto, theirs_one = b[0]
            for p, ports in self._items:
                if p == proto:
                    both = ports & theirs_one
                    return _canonical(((p, both),)) if both else _NONE
            return _NONE
        theirs = dict(b)
        return _canonical(tuple((p, both) for p, ports in self._items
                                if p in theirs and (both := ports & theirs[p])))

    def __sub__(self, other: PortSet) -> PortSet:
        if other is _ANY or self is other:
            return _NONE
        if not other._items:
            return self
        return _remembered(_LEFTS, self, other, PortSet._left)

    def _left(self, other: PortSet) -> PortSet:
        theirs = dict(other._items)
        return _canonical(tuple((p, rest) for p, ports in self._items
                                if (rest := ports - theirs[p] if p in theirs else ports)))

    def __repr__(self) -> str:
        return f"PortSet({format_ports(self)!r})"


_ANY = PortSet({p: FULL for p in PROTOCOLS})  # immutable, so one instance serves
_NONE = PortSet()

# Verify's rule walks meet the same few port sets (a spec's services, and what is left of
# every port once some are taken) again and again, for every end: what two of them share,
# and what is left of one without the other, are worked out once. Bounded: a spec with
# more pairs than this starts again.
_MEETS: dict[tuple[PortSet, PortSet], PortSet] = {}
_LEFTS: dict[tuple[PortSet, PortSet], PortSet] = {}
_REMEMBERED = 100_000


def _remembered(memo: dict[tuple[PortSet, PortSet], PortSet], a: PortSet, b: PortSet,
                op: Callable[[PortSet, PortSet], PortSet]) -> PortSet:
    found = memo.get((a, b))
    if found is None:
        if len(memo) >= _REMEMBERED:
            memo.clear()
        found = memo[(a, b)] = op(a, b)
    return found


def _canonical(items: tuple[tuple[str, IntervalSet], ...]) -> PortSet:
    """A port set from items already in canonical form (protocol order, no empty
    protocol, portless ones full): what `&` and `-` of two canonical sets give,
    built without checking again, which verify's rule walks do very often."""
    out = PortSet.__new__(PortSet)
    out._items = items
    return out


def parse_port(literal: str) -> PortSet:
    """Read one literal: tcp/443, udp/53, sctp/9899, tcp/8000-8100, icmp, icmpv6, any."""
    if not literal.isascii():
        odd = next(c for c in literal if not c.isascii())
        raise PortError(f"cannot read port {literal!r}: {odd!r} is not an ASCII character; write ports "
                        "with the digits 0-9, e.g. tcp/443")
    text = literal.strip().lower()
    if text == "any":
        return PortSet.any()
    m = _LITERAL.fullmatch(text)
    if not m:
        raise PortError(
            f"cannot read port {literal!r}: write tcp/443, udp/53, tcp/8000-8100, icmp, icmpv6 or any"
        )
    proto, lo, hi = m.group("proto"), m.group("lo"), m.group("hi")
    if proto in ("icmp", "icmpv6"):
        if lo is not None:
            raise PortError(
                f"{literal!r}: {proto} takes no port or type; write plain '{proto}' (all types)"
            )
        return PortSet({proto: FULL})
    if proto not in PORTED:
        raise PortError(
            f"unknown protocol {proto!r} in {literal!r}: use tcp, udp, sctp, icmp, icmpv6 or any"
        )
    if lo is None:
        raise PortError(
            f"{literal!r} has no port: write {proto}/PORT or {proto}/LOW-HIGH "
            f"({proto}/0-65535 for every port)"
        )
    low, high = int(lo), int(hi) if hi is not None else int(lo)
    for value in (low, high):
        if value > MAX_PORT:
            raise PortError(f"port {value} in {literal!r} is outside 0-65535")
    if low > high:
        raise PortError(f"range {literal!r} is reversed: write {proto}/{high}-{low}")
    return PortSet({proto: IntervalSet.of(low, high)})


def format_interval(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def format_ports(ports: PortSet) -> str:
    """Inverse of parse_port for a whole set, e.g. 'tcp/80,8000-8002 udp/53'."""
    if ports.is_any():
        return "any"
    parts = []
    for proto, ivs in ports.items():
        if proto in PORTLESS:
            parts.append(proto)
        else:
            parts.append(f"{proto}/" + ",".join(format_interval(lo, hi) for lo, hi in ivs))
    return " ".join(parts)


def ports_literals(ports: PortSet) -> list[str]:
    """The port set as literals that `parse_port` reads back (plan JSON)."""
    if ports.is_any():
        return ["any"]
    out = []
    for proto, ivs in ports.items():
        if proto in PORTLESS:
            if proto == "other":
                raise ValueError("protocols other than tcp, udp, sctp and icmp have no literal outside 'any'")
            out.append(proto)
        else:
            out.extend(f"{proto}/{format_interval(lo, hi)}" for lo, hi in ivs)
    return out
