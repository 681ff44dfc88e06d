"""IP address sets as two interval sets, one per family.

Exclusions are subtracted here, once, so every target receives plain allow
sets; targets that speak CIDR lists get the smallest exact list back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from cloudfence.intervals import EMPTY, IntervalSet

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
V4_MAX = 2**32 - 1
V6_MAX = 2**128 - 1


class CidrError(ValueError):
    """A CIDR literal that cannot be read; the message says what to write instead."""


_PREFIX = re.compile(r"[0-9]{1,3}")


def parse_cidr(text: str) -> IPNetwork:
    """Strict, as DESIGN section 3 says: an address and a prefix length (never a
    silent /32), ASCII digits only, no IPv6 zone id, no host bits set (they usually
    hide a typo). Every refusal says what to write instead."""
    raw = str(text)
    text = raw.strip()
    if not text.isascii():
        odd = next(c for c in text if not c.isascii())
        raise CidrError(f"invalid CIDR {raw!r}: {odd!r} is not an ASCII character; write addresses "
                        "with the digits 0-9, e.g. 10.0.0.0/16")
    if "%" in text:
        # the zone may sit before the prefix (fe80::1%eth0/64) or after it (fe80::/64%eth0)
        bare = re.sub(r"%[^/]*", "", text)
        raise CidrError(f"invalid CIDR {raw!r}: IPv6 zone ids (%...) name an interface, not addresses; "
                        f"write {bare if '/' in bare else bare + '/128'}")
    address, slash, prefix = text.partition("/")
    if not slash:
        try:
            single = ipaddress.ip_address(address)
        except ValueError:
            raise CidrError(f"invalid CIDR {raw!r}: write an address and prefix length such as "
                            "10.0.0.0/16") from None
        raise CidrError(f"invalid CIDR {raw!r}: the prefix length is missing; write "
                        f"{single}/{single.max_prefixlen} for this one address, or the network with its "
                        "length such as 10.0.0.0/16")
    if not _PREFIX.fullmatch(prefix):
        try:
            loose = ipaddress.ip_network(text, strict=False)
            fix = f"write {loose.network_address}/{loose.prefixlen}"
        except ValueError:
            fix = "write a number of bits such as /16"
        raise CidrError(f"invalid CIDR {raw!r}: the prefix length must be a number of bits; {fix}")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            try:
                bits: int = ipaddress.ip_address(address).max_prefixlen
            except ValueError:
                bits = 0
            if bits and int(prefix) > bits:
                raise CidrError(f"invalid CIDR {raw!r}: an IPv{4 if bits == 32 else 6} prefix length is "
                                f"at most {bits}") from None
            raise CidrError(f"invalid CIDR {raw!r} ({exc}): write an address and prefix length such as "
                            "10.0.0.0/16") from None
        raise CidrError(f"invalid CIDR {raw!r}: host bits are set, did you mean {loose}?") from None


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


_set = object.__setattr__


class AddressSet:
    """An immutable set of addresses: IPv4 and IPv6 intervals. Its hash is kept, as
    verify files rules and peers by their addresses very often."""

    __slots__ = ("_cidrs", "_hash", "v4", "v6")
    v4: IntervalSet
    v6: IntervalSet
    _hash: int
    _cidrs: tuple[IPNetwork, ...]

    def __init__(self, v4: IntervalSet = EMPTY, v6: IntervalSet = EMPTY) -> None:
        _set(self, "v4", v4)
        _set(self, "v6", v6)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AddressSet is immutable: cannot set {name}")

    def __reduce__(self) -> tuple[type[AddressSet], tuple[IntervalSet, IntervalSet]]:
        return (AddressSet, (self.v4, self.v6))

    def __eq__(self, o: object) -> bool:
        return self is o or (isinstance(o, AddressSet) and self.v4 == o.v4 and self.v6 == o.v6)

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = hash((self.v4, self.v6))
            _set(self, "_hash", h)
            return h

    def __repr__(self) -> str:
        return f"AddressSet(v4={self.v4!r}, v6={self.v6!r})"

    @classmethod
    def from_cidrs(cls, nets: Iterable[IPNetwork | str]) -> AddressSet:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for n in nets:
            net = parse_cidr(n) if isinstance(n, str) else n
            (v4 if net.version == 4 else v6).append(net_interval(net))
        return cls(IntervalSet(v4), IntervalSet(v6))

    @classmethod
    def of_all(cls, sets: Iterable[AddressSet]) -> AddressSet:
        """All of `sets`, normalised once: a union set by set costs their number squared
        when they are apart."""
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for s in sets:
            v4.extend(s.v4)
            v6.extend(s.v6)
        return cls(IntervalSet(v4), IntervalSet(v6))

    @classmethod
    def everything(cls) -> AddressSet:
        return _EVERYTHING

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def __or__(self, o: AddressSet) -> AddressSet:
        if not o:
            return self
        if not self:
            return o
        return AddressSet(self.v4 | o.v4, self.v6 | o.v6)

    def __and__(self, o: AddressSet) -> AddressSet:
        if self is o or o is _EVERYTHING:
            return self
        if self is _EVERYTHING:
            return o
        return AddressSet(self.v4 & o.v4, self.v6 & o.v6)

    def __sub__(self, o: AddressSet) -> AddressSet:
        if not o:
            return self
        return AddressSet(self.v4 - o.v4, self.v6 - o.v6)

    def issubset(self, o: AddressSet) -> bool:
        return self.v4.issubset(o.v4) and self.v6.issubset(o.v6)

    def covers_a_family(self) -> bool:
        """True when every IPv4 or every IPv6 address is inside: such a set
        surely holds members whose addresses we do not know."""
        return self.v4 == IntervalSet.of(0, V4_MAX) or self.v6 == IntervalSet.of(0, V6_MAX)

    def cidrs(self) -> list[IPNetwork]:
        """The smallest list of CIDRs covering exactly this set (v4 first). Worked out
        once per set: a network's CIDRs are asked for by every flow that names it."""
        try:
            return list(self._cidrs)
        except AttributeError:
            _set(self, "_cidrs", tuple(self._summarised()))
            return list(self._cidrs)

    def _summarised(self) -> list[IPNetwork]:
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


_EVERYTHING = AddressSet(IntervalSet.of(0, V4_MAX), IntervalSet.of(0, V6_MAX))

PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
GLOBAL_V6 = "2000::/3"
#: Public address space (DESIGN section 3): every IPv4 address outside the five
#: private ranges, and IPv6 global unicast.
PUBLIC = (AddressSet.from_cidrs(["0.0.0.0/0"]) - AddressSet.from_cidrs(PRIVATE_V4)) | AddressSet.from_cidrs(
    [GLOBAL_V6])
#: Where hosts live privately: the complement of PUBLIC.
PRIVATE = AddressSet.everything() - PUBLIC


def address_text(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))
