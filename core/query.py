"""Can A reach B: the answer from the flows, and per target from the records.

The spec's answer comes from the flows alone (segments meet only through a flow
that names both; an address answers as the segment or networks that hold it).
A target's answer comes from its evaluated records: the source end must let
the packet out and the destination end let it in, and the records that do are
named, so a reviewer can go from "why is this open" to the line that opens it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.attribution import RecordRule
from cloudfence.errors import CloudfenceError, Problem, did_you_mean
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.plan import Plan
from cloudfence.ports import PortError, PortSet, format_ports, parse_port
from cloudfence.reach import WIDE, World, _effective
from cloudfence.reachability import EGRESS, INGRESS, Points, Reachability
from cloudfence.space import Space

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_SHOWN = 6  # records named per end in the table; JSON lists every one


@dataclass(frozen=True)
class End:
    """FROM or TO as the user gave it, resolved against the spec."""

    text: str
    kind: str  # "segment" | "network" | "platform" | "address"
    name: str  # the segment, network or platform name; for an address, the text
    address: IPAddress | None = None
    holders: tuple[Endpoint, ...] = ()  # for an address: the segment, or the networks, that hold it

    @property
    def endpoint(self) -> Endpoint | None:
        return None if self.kind == "address" else Endpoint(self.kind, self.name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"given": self.text, "kind": self.kind, "name": self.name}
        if self.kind == "address":
            out["in"] = [h.name for h in self.holders]
        return out


def parse_query_port(text: str | None) -> PortSet | None:
    """PORT as a literal (tcp/443, udp/53, icmp) or a bare number, read as TCP."""
    if text is None:
        return None
    raw = text.strip()
    try:
        return parse_port(f"tcp/{raw}" if raw.isdigit() else raw)
    except PortError as exc:
        raise CloudfenceError(Problem("PORT", f"{exc} (a bare number is read as TCP)")) from None


def resolve_end(intent: Intent, text: str, role: str, space: Space,
                platform: Iterable[str] = ()) -> End:
    """A segment, network, `internet`, platform endpoint or one address; anything
    else is bad input with a did-you-mean."""
    name = text.strip()
    if name in intent.segments:
        return End(text, "segment", name)
    if name in intent.networks:
        return End(text, "network", name)
    known_platform = {ep.name for f in intent.flows for ep in (f.src, f.dst) if ep.kind == "platform"}
    known_platform |= set(platform)
    if name.startswith("@"):
        if name in known_platform:
            return End(text, "platform", name)
        raise CloudfenceError(Problem(role, f"platform endpoint '{name}' is named by no flow"
                                      f"{did_you_mean(name, known_platform)}"))
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None:
        return End(text, "address", str(address), address, holders_of(intent, space, address))
    if "/" in name:
        try:
            net = ipaddress.ip_network(name, strict=False)
            fix = f"give one address, e.g. {net.network_address}"
        except ValueError:
            fix = "give a segment, a network, internet or one address such as 10.20.3.7"
        raise CloudfenceError(Problem(role, f"'{name}' is not one address: {fix}"))
    hint = did_you_mean(name, [*intent.segments, *intent.networks, *known_platform])
    if not hint:
        hint = (f" (segments: {', '.join(intent.segments)}; networks: {', '.join(intent.networks)}; "
                "or an address such as 10.20.3.7)")
    raise CloudfenceError(Problem(role, f"unknown segment or network '{name}'{hint}"))


def holders_of(intent: Intent, space: Space, address: IPAddress) -> tuple[Endpoint, ...]:
    """The segment whose cidr holds the address, else every network (on this space) that does."""
    one = AddressSet.from_cidrs([ipaddress.ip_network(address)])
    for seg in intent.segments.values():
        if one.issubset(seg.addresses):
            return (Endpoint("segment", seg.name),)
    return tuple(Endpoint("network", n) for n in intent.networks if one.issubset(space.network(n)))


# ------------------------------------------------------------- the spec's answer


@dataclass(frozen=True)
class Match:
    flow: Flow
    ports: PortSet
    partial: str = ""  # why it covers only part of a network end
    implied_by: str = ""  # the target that adds this flow on purpose (not a spec flow)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.flow.src.name, "to": self.flow.dst.name,
                               "ports": format_ports(self.ports),
                               "specFlows": [f"flows[{i}]" for i in self.flow.origins],
                               "descriptions": list(self.flow.descriptions)}
        if self.partial:
            out["partial"] = self.partial
        if self.implied_by:
            out["impliedBy"] = self.implied_by
        return out


def _addresses(space: Space, end: End) -> AddressSet:
    if end.kind == "address":
        assert end.address is not None
        return AddressSet.from_cidrs([ipaddress.ip_network(end.address)])
    if end.kind == "network":
        return space.network(end.name)
    return AddressSet()


def _covers(space: Space, side: Endpoint, end: End) -> tuple[bool, str] | None:
    """Whether a flow's side covers the end: fully (True), partly (False, why), or not (None)."""
    if end.kind in ("segment", "platform"):
        return (True, "") if side.kind == end.kind and side.name == end.name else None
    if end.kind == "address":
        return (True, "") if side in end.holders else None
    if side.kind != "network":
        return None
    if side.name == end.name:
        return True, ""
    mine, theirs = _addresses(space, end), space.network(side.name)
    both = mine & theirs
    if not both:
        return None
    if mine.issubset(theirs):
        return True, ""
    shown = ", ".join(str(c) for c in both.cidrs()[:3])
    more = " ..." if len(both.cidrs()) > 3 else ""
    return False, f"only the part of {end.name} in {side.name} ({shown}{more})"


def matching_flows(intent: Intent, space: Space, src: End, dst: End, ports: PortSet | None,
                   implied: Iterable[tuple[Flow, str]] = ()) -> list[Match]:
    """Spec flows (and flows targets imply, with the target's name) that allow the query."""
    out = []
    for flow, by in (*((f, "") for f in intent.flows), *implied):
        a, b = _covers(space, flow.src, src), _covers(space, flow.dst, dst)
        if a is None or b is None:
            continue
        shared = flow.ports if ports is None else flow.ports & ports
        if shared:
            out.append(Match(flow, shared, a[1] or b[1], by))
    return out


# ------------------------------------------------------------- a target's answer


@dataclass
class EndAnswer:
    """One end of the connection on one target: what it lets through, and which records."""

    end: str
    direction: str
    governed: bool
    ports: PortSet  # what this end lets through towards the other end
    records: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"end": self.end, "direction": self.direction, "governed": self.governed,
                "ports": format_ports(self.ports) if self.ports else "",
                "records": self.records}


@dataclass
class TargetAnswer:
    provider: str
    allowed: PortSet = field(default_factory=PortSet)
    ends: list[EndAnswer] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # what a network or address means here
    implied: list[str] = field(default_factory=list)  # implied flows that cover the query
    not_governed: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "allowed": bool(self.allowed) and not self.problems,
                "ports": format_ports(self.allowed) if self.allowed else "",
                "notGoverned": self.not_governed, "ends": [e.to_json() for e in self.ends],
                "addresses": self.addresses, "implied": self.implied, "problems": self.problems}


def _points(world: World, space: Space, end: End) -> tuple[Points, str | None]:
    """The end's points on the target, and the governed-or-background end it is (if any)."""
    if end.kind == "segment":
        return world.end_points(end.name), end.name if end.name in world.ends else None
    if end.kind == "platform":
        # As a flow names it: addresses where the target writes it so, else the point
        # (a background end when the target has rules of it, the AWS load balancer group).
        pts = world.points_of(Endpoint("platform", end.name))
        return pts, end.name if end.name in world.ends else None
    if end.kind == "address" and end.holders and end.holders[0].is_segment:
        seg = end.holders[0].name
        seg_pts = world.end_points(seg)
        pts = Points(addresses=_addresses(space, end)) if seg_pts.addresses else seg_pts
        return pts, seg if seg in world.ends else None
    return Points(addresses=_addresses(space, end)), None


def _side(reach: Reachability, world: World, end: str, direction: str, other: Points,
          ports: PortSet, rules: dict[str, list[RecordRule]]) -> EndAnswer:
    """What one end allows towards the other end's points, and the records behind it."""
    allowed = PortSet()
    for pts, rule_ports in _effective(reach, world, end, direction, WIDE):
        if pts & other:
            allowed = allowed | (rule_ports & ports)
    names = sorted(name for name, found in rules.items()
                   if any(r.end == end and r.direction == direction and r.ports & allowed
                          and world.resolve(r.peer, WIDE) & other for r in found))
    return EndAnswer(end, direction, True, allowed, names)


def target_answer(provider_name: str, plan: Plan, reach: Reachability, space: Space, intent: Intent,
                  src: End, dst: End, ports: PortSet | None,
                  rules: dict[str, list[RecordRule]]) -> TargetAnswer:
    world = World(intent, space, reach,
                  extra_platform=[ep.name for f in plan.implied for ep in (f.src, f.dst)
                                  if ep.kind == "platform"])
    wanted = ports if ports is not None else PortSet.any()
    answer = TargetAnswer(provider_name)
    for end in (src, dst):
        if end.kind == "network":
            answer.addresses[end.name] = _cidr_text(space.network(end.name))
        elif end.kind == "address":
            answer.addresses[end.name] = ", ".join(h.name for h in end.holders) or "no segment or network"
    src_pts, src_end = _points(world, space, src)
    dst_pts, dst_end = _points(world, space, dst)
    if not ({src_end, dst_end} & set(reach.judged_ends)):
        answer.not_governed = True
        return answer
    allowed = world.judged_ports(wanted)
    sides = ((src_end, EGRESS, dst_pts, src.name), (dst_end, INGRESS, src_pts, dst.name))
    for end_name, direction, other, name in sides:
        if end_name is None:
            answer.ends.append(EndAnswer(name, direction, False, wanted))
            continue
        side = _side(reach, world, end_name, direction, other, wanted, rules)
        answer.ends.append(side)
        allowed = allowed & side.ports
    answer.allowed = allowed
    answer.implied = [str(m.flow) for m in matching_flows(intent, space, src, dst, ports,
                                                          [(f, provider_name) for f in plan.implied])
                      if m.implied_by]
    return answer


def _cidr_text(addresses: AddressSet, most: int = 4) -> str:
    cidrs = [str(c) for c in addresses.cidrs()]
    if not cidrs:
        return "no address"
    shown = ", ".join(cidrs[:most])
    return shown + (f" and {len(cidrs) - most} more" if len(cidrs) > most else "")


# ---------------------------------------------------------------- rendering


@dataclass
class Answer:
    src: End
    dst: End
    ports: PortSet | None
    matches: list[Match]
    targets: list[TargetAnswer] = field(default_factory=list)

    @property
    def allowed_ports(self) -> PortSet:
        out = PortSet()
        for m in self.matches:
            if not m.partial:
                out = out | m.ports
        return out

    @property
    def allowed(self) -> bool:
        got = self.allowed_ports
        return bool(got) and (self.ports is None or not self.ports - got)

    def to_json(self) -> dict[str, Any]:
        return {"from": self.src.to_json(), "to": self.dst.to_json(),
                "ports": format_ports(self.ports) if self.ports is not None else "any",
                "allowed": self.allowed,
                "allowedPorts": format_ports(self.allowed_ports) if self.allowed_ports else "",
                "flows": [m.to_json() for m in self.matches],
                "targets": [t.to_json() for t in self.targets]}


def answer_text(a: Answer) -> str:
    asked = format_ports(a.ports) if a.ports is not None else "any port"
    verdict = "allowed" if a.allowed else ("partly allowed" if a.allowed_ports else "denied")
    out = [f"{a.src.name} -> {a.dst.name} {asked}: {verdict}"
           + (f" ({format_ports(a.allowed_ports)})" if a.allowed_ports and a.ports is None else "")]
    for end in (a.src, a.dst):
        if end.kind == "address":
            where = ", ".join(h.name for h in end.holders) or "no segment or network (denied everywhere)"
            out.append(f"  {end.name} is in {where}")
    for m in a.matches:
        what = "by " + ", ".join(f"flows[{i}]" for i in m.flow.origins) if m.flow.origins \
            else f"implied by {m.implied_by}"
        desc = f": {'; '.join(m.flow.descriptions)}" if m.flow.descriptions else ""
        part = f" [{m.partial}]" if m.partial else ""
        out.append(f"  {what} ({m.flow.src} -> {m.flow.dst} {format_ports(m.ports)}){desc}{part}")
    if not a.matches:
        out.append("  no flow names both ends" + (" on these ports" if a.ports is not None else ""))
    for t in a.targets:
        out += _target_lines(t)
    return "\n".join(out)


def _target_lines(t: TargetAnswer) -> list[str]:
    if t.problems:
        return [f"{t.provider}: cannot plan: {t.problems[0]}"]
    head = f"{t.provider}: "
    if t.not_governed:
        return [head + "not governed (neither end is a segment or endpoint this target enforces)"]
    head += f"allowed ({format_ports(t.allowed)})" if t.allowed else "denied"
    out = [head]
    out += [f"  {name} on {t.provider} = {text}" for name, text in t.addresses.items()]
    for e in t.ends:
        if not e.governed:
            out.append(f"  {e.end} ({e.direction}): not governed here")
        elif e.records:
            shown = ", ".join(e.records[:MAX_SHOWN])
            more = f" and {len(e.records) - MAX_SHOWN} more (--format json lists them)" \
                if len(e.records) > MAX_SHOWN else ""
            out.append(f"  {e.end} ({e.direction}): {shown}{more}")
        else:
            lets = f"lets {format_ports(e.ports)} through" if e.ports else "no record allows it"
            out.append(f"  {e.end} ({e.direction}): {lets}")
    out += [f"  implied by {t.provider}: {f}" for f in t.implied]
    return out

