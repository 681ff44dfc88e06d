"""First-match evaluation of an ordered rule list over address ranges.

Network ACLs (AWS), NSG rules (Azure) and firewall rules (GCP) are ordered: the
first rule (lowest number) that matches a packet's address, protocol and port
decides allow or deny, and a packet no rule matches is denied. `first_match`
turns such a list into what each address range is allowed, exactly: the address
space is cut at every rule's bounds, so each atom is matched by the same rules
throughout. At equal priority a deny is taken first (GCP's documented tie-break;
targets with unique priorities are unaffected).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cloudfence.addresses import V4_MAX, V6_MAX, AddressSet
from cloudfence.intervals import IntervalSet
from cloudfence.ports import PortSet

Atom = tuple[int, int, int]  # (family, first address, last address)


@dataclass(frozen=True)
class OrderedRule:
    priority: int  # lower is evaluated first
    allow: bool
    addresses: AddressSet  # the peer addresses it matches
    ports: PortSet  # the protocols and ports it matches


def atoms(*rule_lists: Iterable[OrderedRule]) -> list[Atom]:
    """Address ranges that every rule of the lists either holds whole or misses whole."""
    cuts: dict[int, set[int]] = {4: {0}, 6: {0}}
    for rules in rule_lists:
        for r in rules:
            for fam, ivs in ((4, r.addresses.v4), (6, r.addresses.v6)):
                for lo, hi in ivs:
                    cuts[fam].update((lo, hi + 1))
    out: list[Atom] = []
    for fam, top in ((4, V4_MAX), (6, V6_MAX)):
        starts = sorted(c for c in cuts[fam] if c <= top)
        out += [(fam, lo, starts[i + 1] - 1 if i + 1 < len(starts) else top) for i, lo in enumerate(starts)]
    return out


def first_match(rules: Iterable[OrderedRule], over: Sequence[Atom] | None = None) -> dict[Atom, PortSet]:
    """What each atom is allowed: per atom, the ports of the allow rules that come first."""
    ordered = sorted(rules, key=lambda r: (r.priority, r.allow))
    grid = atoms(ordered) if over is None else over
    table: dict[Atom, PortSet] = {}
    for fam, lo, hi in grid:
        remaining, allowed = PortSet.any(), PortSet()
        for r in ordered:
            if lo not in (r.addresses.v4 if fam == 4 else r.addresses.v6):
                continue
            hit = remaining & r.ports
            if r.allow:
                allowed = allowed | hit
            remaining = remaining - hit
        table[(fam, lo, hi)] = allowed
    return table


def atoms_to_set(found: Iterable[Atom]) -> AddressSet:
    found = list(found)
    return AddressSet(IntervalSet((lo, hi) for f, lo, hi in found if f == 4),
                      IntervalSet((lo, hi) for f, lo, hi in found if f == 6))
