"""IP address sets as two interval sets, one per family.

Exclusions are subtracted here, once, so every target receives plain allow
sets; targets that speak CIDR lists get the smallest exact list back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudfence.intervals import IntervalSet

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
V4_MAX = 2**32 - 1
V6_MAX = 2**128 - 1


def parse_cidr(text: str) -> IPNetwork:
    """Strict: host bits set is an error, since it usually hides a typo."""
    return ipaddress.ip_network(str(text).strip(), strict=True)


def record_cidr(text: str) -> IPNetwork:
    """A CIDR as a record holds it, read the way clouds do: host bits ignored. (Spec and
    settings input is read strictly, with `cidr_problem`.)"""
    return ipaddress.ip_network(str(text).strip(), strict=False)


def cidr_problem(text: object, example: str = "10.0.0.0/16", kind: str = "a CIDR") -> str | None:
    """Why `text` is not a CIDR as a user must write it, with the fix; None when it is one."""
    if not isinstance(text, str):
        return f"expected {kind} such as {example}, got {text!r}"
    try:
        parse_cidr(text)
        return None
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return f"{text!r} is not a CIDR: write an address and prefix length such as {example}"
    return f"host bits are set in {text!r}: did you mean {loose}?"


def net_interval(net: IPNetwork) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


@dataclass(frozen=True)
class AddressSet:
    v4: IntervalSet = field(default_factory=IntervalSet)
    v6: IntervalSet = field(default_factory=IntervalSet)

    @classmethod
    def from_cidrs(cls, nets: Iterable[IPNetwork | str]) -> AddressSet:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for n in nets:
            net = parse_cidr(n) if isinstance(n, str) else n
            (v4 if net.version == 4 else v6).append(net_interval(net))
        return cls(IntervalSet(v4), IntervalSet(v6))

    @classmethod
    def everything(cls) -> AddressSet:
        return cls(IntervalSet.of(0, V4_MAX), IntervalSet.of(0, V6_MAX))

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def __or__(self, o: AddressSet) -> AddressSet:
        return AddressSet(self.v4 | o.v4, self.v6 | o.v6)

    def __and__(self, o: AddressSet) -> AddressSet:
        return AddressSet(self.v4 & o.v4, self.v6 & o.v6)

    def __sub__(self, o: AddressSet) -> AddressSet:
        return AddressSet(self.v4 - o.v4, self.v6 - o.v6)

    def issubset(self, o: AddressSet) -> bool:
        return self.v4.issubset(o.v4) and self.v6.issubset(o.v6)

    def covers_a_family(self) -> bool:
        """True when every IPv4 or every IPv6 address is inside: such a set
        surely holds members whose addresses we do not know."""
        return self.v4 == IntervalSet.of(0, V4_MAX) or self.v6 == IntervalSet.of(0, V6_MAX)

    def cidrs(self) -> list[IPNetwork]:
        """The smallest list of CIDRs covering exactly this set (v4 first)."""
        out: list[IPNetwork] = []
        for lo, hi in self.v4:
            out.extend(
                ipaddress.summarize_address_range(ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi))
            )
        for lo, hi in self.v6:
            out.extend(
                ipaddress.summarize_address_range(ipaddress.IPv6Address(lo), ipaddress.IPv6Address(hi))
            )
        return out


def address_text(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))
