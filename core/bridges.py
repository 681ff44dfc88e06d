"""Bridges a target cannot close: two flows through address ranges that
overlap where segments without a cidr may be.

`batch -> internal (10.0.0.0/8)` opens batch's egress to 10.0.0.0/8 and
`internal -> payments` opens payments' ingress from it. If batch and payments
have no cidr, both may hold addresses in 10.0.0.0/8, so the two rules join
into batch -> payments, which no flow allows. Targets name such segments by
identity but the networks by address, so nothing in the rules can tell the
members apart from the network's hosts: the check refuses, naming the fix.
"""

from __future__ import annotations

from cloudfence.errors import Problem
from cloudfence.intent import Flow, Intent
from cloudfence.ports import PortSet, format_ports
from cloudfence.space import Space

MOST = 10


def bridge_problems(intent: Intent, space: Space, segments: frozenset[str], internal_setting: str,
                    target: str, endpoints: frozenset[str] = frozenset()) -> list[Problem]:
    """Problems for every pair of flows that would let a segment of `segments`
    (known by identity, somewhere in `space.hidden`) reach another one, or itself,
    or a platform endpoint of `endpoints` (one the target governs, known by identity
    somewhere in the internal space: the AWS load balancer's group), beyond the flows."""
    hidden = space.hidden
    out_flows: list[Flow] = []
    in_flows: list[Flow] = []
    for f in intent.flows:
        if f.src.is_segment and f.src.name in segments and f.dst.kind == "network" \
                and space.network(f.dst.name) & hidden:
            out_flows.append(f)
        into = f.dst.name in segments if f.dst.is_segment else f.dst.name in endpoints
        if into and f.src.kind == "network" and space.network(f.src.name) & hidden:
            in_flows.append(f)
    direct: dict[tuple[str, str], PortSet] = {(f.src.name, f.dst.name): f.ports for f in intent.flows}
    problems: list[Problem] = []
    for out in out_flows:
        for inn in in_flows:
            ports = (out.ports & inn.ports) - direct.get((out.src.name, inn.dst.name), PortSet())
            if not ports:
                continue
            a, b = out.src.name, inn.dst.name
            reach = "itself" if a == b else f"'{b}'"
            via = (f"'{out.dst}', which overlaps" if out.dst == inn.src
                   else f"'{out.dst}' and '{inn.src}', which overlap")
            also = "" if a == b or not inn.dst.is_segment else f" or {b!r}"
            problems.append(intent.problem(out, (
                f"with {inn.where}, '{a}' could reach {reach} on {format_ports(ports)} through "
                f"{via} where segments without a cidr may be on "
                f"{target}: give '{a}'{also} a cidr, "
                + (f"set settings.{internal_setting} (the internal space), " if internal_setting else "")
                + "or narrow the network")))
            if len(problems) >= MOST:
                return problems
    return problems
