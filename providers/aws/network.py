"""Network mode: the VPC cloudfence creates and one subnet per segment IPv4 cidr.

The VPC CIDR must never move when segments are added (a new cidrBlock
replaces the VPC), so the default is not the tightest cover of the segments
but the /16 that holds them all; set `vpcCidr` to choose another.
The created VPC is IPv4-only: AWS assigns IPv6 blocks itself, so a segment's
own IPv6 cidr could never be its subnet's. Such segments need `vpcId`.
"""

from __future__ import annotations

import ipaddress

from cloudfence.errors import Problem
from cloudfence.families import split
from cloudfence.intent import Intent
from cloudfence.providers.aws.settings import FALLBACK_VPC_CIDR, AwsSettings

MIN_SUBNET_PREFIX, MAX_SUBNET_PREFIX = 16, 28  # AWS subnet sizes: /16 to /28


def subnets(intent: Intent) -> dict[str, list[ipaddress.IPv4Network]]:
    """Segment -> the IPv4 cidrs that become its subnets (network mode only)."""
    out = {}
    for name, seg in intent.segments.items():
        v4, _ = split(seg.cidrs)
        if v4:
            out[name] = v4
    return out


def default_vpc_cidr(intent: Intent) -> ipaddress.IPv4Network | None:
    """The /16 holding every segment IPv4 cidr; None if they do not share one."""
    nets = [c for cidrs in subnets(intent).values() for c in cidrs if c.prefixlen >= 16]
    if not nets:
        return FALLBACK_VPC_CIDR
    supers = {n.supernet(new_prefix=16) for n in nets}
    return supers.pop() if len(supers) == 1 else None


def vpc_cidr(intent: Intent, settings: AwsSettings) -> ipaddress.IPv4Network | None:
    return settings.vpc_cidr or default_vpc_cidr(intent)


def network_problems(intent: Intent, settings: AwsSettings) -> list[Problem]:
    if not settings.network_mode:
        return []
    problems: list[Problem] = []
    vpc = vpc_cidr(intent, settings)
    if vpc is None:
        cidrs = [f"{c} of '{s}'" for s, cs in subnets(intent).items() for c in cs]
        held = ", ".join(cidrs[:4]) + (f" and {len(cidrs) - 4} more" if len(cidrs) > 4 else "")
        problems.append(Problem("settings.vpcCidr", f"the segments' IPv4 cidrs ({held}) do not fit "
                                "in one /16, the largest VPC AWS allows: set settings.vpcCidr to the "
                                "VPC's range, or settings.vpcId to attach to an existing VPC"))
    for name, seg in intent.segments.items():
        for c in seg.cidrs:
            if c.version == 6:
                problems.append(intent.segment_problem(
                    name, f"IPv6 cidr {c} cannot become a subnet: the VPC cloudfence creates "
                    "is IPv4-only (AWS assigns IPv6 blocks itself); remove it, or set settings.vpcId "
                    "to attach to your dual-stack VPC"))
            elif not MIN_SUBNET_PREFIX <= c.prefixlen <= MAX_SUBNET_PREFIX:
                problems.append(intent.segment_problem(
                    name, f"{c} cannot become a subnet: AWS subnets are /16 to /28; split or "
                    "resize it, or set settings.vpcId and create the subnets yourself"))
            elif vpc is not None and not c.subnet_of(vpc):
                problems.append(intent.segment_problem(name, f"{c} is outside the VPC CIDR {vpc}"
                    f"{' (settings.vpcCidr)' if settings.vpc_cidr else ''}: move the segment or "
                    "set settings.vpcCidr to a range that holds every segment"))
    return problems
