"""Warnings: what a valid spec says that does nothing.

Errors stop a spec; warnings never do (`--strict` makes the CLI treat them as
errors, for CI). Each warning is a Problem placed at the spec entry it is about,
computed from the Spec (for names the intent no longer holds, such as services)
and the Intent (for what the flows mean once resolved and merged).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cloudfence.addresses import AddressSet
from cloudfence.errors import Problem
from cloudfence.intent import INTERNET, Endpoint, Intent, build_intent
from cloudfence.ports import PortSet, format_ports
from cloudfence.spec import Spec, load_spec

FAMILY_NAME = {4: "IPv4", 6: "IPv6"}


def load_checked(path: str | Path) -> tuple[Intent, list[Problem]]:
    """The intent of the spec at `path` and its warnings (SpecError on errors)."""
    spec = load_spec(path)
    intent = build_intent(spec)
    return intent, lint(spec, intent)


def lint(spec: Spec, intent: Intent) -> list[Problem]:
    """Every warning, in the order of the lines they are about."""
    found = [*_unused(spec), *_repeated_names(spec), *_merged(spec, intent),
             *_excluded_networks(spec, intent), *_families(intent)]
    return sorted(found, key=lambda p: p.line or 0)


def _names(items: str | list[str]) -> list[str]:
    return [items] if isinstance(items, str) else list(items)


def _unused(spec: Spec) -> Iterable[Problem]:
    m = spec.model
    named = {n for f in m.flows for n in (*f.from_, *f.to)}
    ports = {p for f in m.flows for p in f.ports}
    for name in m.networks:
        if name not in named:
            yield spec.problem(("networks", name), f"network '{name}' is named by no flow, so it allows "
                               "nothing: use it in a flow or remove it")
    for name in m.services:
        if name not in ports:
            yield spec.problem(("services", name), f"service '{name}' is used by no flow, so it opens "
                               "nothing: use it in a flow's ports or remove it")


def _repeated_names(spec: Spec) -> Iterable[Problem]:
    """The same name twice in one flow's `from`, `to` or `ports`: harmless, likely a slip."""
    for i, f in enumerate(spec.model.flows):
        for key, items in (("from", f.from_), ("to", f.to), ("ports", f.ports)):
            seen: set[str] = set()
            for j, item in enumerate(items):
                if item in seen:
                    yield spec.problem(("flows", i, key, j), f"'{item}' is listed twice in this "
                                       f"'{key}' list: remove one")
                seen.add(item)


def _merged(spec: Spec, intent: Intent) -> Iterable[Problem]:
    """Two spec flows that name the same (from, to) pair merge into one flow."""
    for flow in intent.flows:
        first, *later = flow.origins
        for i in later:
            yield spec.problem(("flows", i), f"{flow.src} -> {flow.dst} is also allowed by flows[{first}]: "
                               f"the entries merge into one flow on {format_ports(flow.ports)}; write the "
                               "ports in one entry")


def _excluded_networks(spec: Spec, intent: Intent) -> Iterable[Problem]:
    """A network is its addresses less every segment's cidr: one wholly inside
    segments matches nothing."""
    if not spec.model.networks:
        return
    owned = AddressSet.of_all(seg.addresses for seg in intent.segments.values())
    for name in spec.model.networks:
        net = intent.networks.get(name)
        if net is None or not net.addresses or not net.addresses.issubset(owned):
            continue
        inside = sorted(s.name for s in intent.segments.values() if s.addresses & net.addresses)
        yield spec.problem(("networks", name), f"every address of '{name}' belongs to segment"
                           f"{'s' if len(inside) > 1 else ''} {', '.join(inside)}: a network never "
                           "includes segment addresses, so it matches nothing; name the segment"
                           f"{'s' if len(inside) > 1 else ''} in the flow instead")


def _families(intent: Intent) -> Iterable[Problem]:
    """A flow carries a family only when both ends hold addresses of it. A part
    that can carry nothing (the IPv6 half of a network into an IPv4-only segment,
    icmpv6 between IPv4-only ends) is said, as the spec named it."""
    held: dict[Endpoint, _Held] = {}  # an end recurs in many flows
    for flow in intent.flows:
        for ep in (flow.src, flow.dst):
            if ep not in held:
                held[ep] = _held(intent, ep)
        src, dst = held[flow.src], held[flow.dst]
        both = src.held & dst.held
        if not both:
            yield intent.problem(flow, f"this flow carries nothing: '{src.name}' holds {_only(src.held)} "
                                 f"and '{dst.name}' {_only(dst.held)}")
            continue
        for end, other in ((src, dst), (dst, src)):
            for family in sorted(end.named - both):
                yield intent.problem(flow, f"the {FAMILY_NAME[family]} addresses of '{end.name}' reach "
                                     f"nothing here: '{other.name}' holds {_only(other.held)}; this part of "
                                     "the flow carries nothing")
        for proto, family in (("icmp", 4), ("icmpv6", 6)):
            if _names_protocol(flow.ports, proto) and family not in both:
                yield intent.problem(flow, f"{proto} is {FAMILY_NAME[family]} only and '{flow.src}' and "
                                     f"'{flow.dst}' share no {FAMILY_NAME[family]}: it carries nothing here")


class _Held:
    def __init__(self, name: str, held: set[int], named: set[int]):
        self.name, self.held, self.named = name, held, named


def _held(intent: Intent, ep: Endpoint) -> _Held:
    """Families an end may hold, and those the spec named for it explicitly
    (a segment's cidr, a network's ranges; never `internet` or an endpoint)."""
    if ep.kind == "platform" or (ep.name == INTERNET and ep.kind == "network"):
        return _Held(ep.name, {4, 6}, set())
    addresses = intent.addresses(ep)
    families = {f for f, part in ((4, addresses.v4), (6, addresses.v6)) if part}
    if ep.kind == "segment" and not intent.segments[ep.name].cidrs:
        return _Held(ep.name, {4, 6}, set())  # lives somewhere in the internal space: either family
    return _Held(ep.name, families, families)


def _only(families: set[int]) -> str:
    if not families:
        return "no addresses"
    return " and ".join(FAMILY_NAME[f] for f in sorted(families)) + " addresses only"


def _names_protocol(ports: PortSet, proto: str) -> bool:
    """True when the flow names `proto` on its own, not through `any`."""
    return not ports.is_any() and bool(ports.get(proto))

