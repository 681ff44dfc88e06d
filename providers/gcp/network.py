"""Network mode: the VPC network cloudfence creates (custom subnet mode) and
one subnetwork per segment IPv4 cidr, in the region from settings.

GCP assigns subnetworks' IPv6 ranges itself, so a segment's own IPv6 cidr
can never be its subnetwork's: such segments need an existing network.
"""

from __future__ import annotations

import ipaddress

from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.providers.gcp.settings import GcpSettings

MIN_PREFIX, MAX_PREFIX = 8, 29  # primary IPv4 ranges GCP accepts
#: Ranges a subnetwork may not use (GCP "valid ranges" for subnets).
FORBIDDEN = tuple(ipaddress.ip_network(c) for c in (
    "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4"))


def subnetworks(intent: Intent) -> dict[str, list[ipaddress.IPv4Network]]:
    """Segment -> the IPv4 cidrs that become its subnetworks."""
    out = {}
    for name, seg in intent.segments.items():
        v4 = [c for c in seg.cidrs if isinstance(c, ipaddress.IPv4Network)]
        if v4:
            out[name] = v4
    return out


def network_problems(intent: Intent, settings: GcpSettings) -> list[Problem]:
    if not settings.network_mode:
        return []
    problems = []
    for name, seg in intent.segments.items():
        for c in seg.cidrs:
            if c.version == 6:
                problems.append(intent.segment_problem(name, (
                    f"IPv6 cidr {c} cannot become a subnetwork range: GCP assigns subnetworks' IPv6 "
                    "ranges itself; remove it, or set settings.network to a dual-stack network "
                    "whose ranges you know")))
            elif not MIN_PREFIX <= c.prefixlen <= MAX_PREFIX:
                problems.append(intent.segment_problem(name, (
                    f"{c} cannot become a subnetwork: GCP primary ranges are /{MIN_PREFIX} to "
                    f"/{MAX_PREFIX}; split or resize it, or set settings.network")))
            elif any(c.overlaps(f) for f in FORBIDDEN):
                bad = next(f for f in FORBIDDEN if c.overlaps(f))
                problems.append(intent.segment_problem(name, (
                    f"{c} cannot become a subnetwork: it overlaps {bad}, which GCP reserves; use "
                    "a private range such as 10.0.0.0/8")))
    return problems


def proxy_problems(intent: Intent, settings: GcpSettings) -> list[Problem]:
    """A proxy-only subnetwork holds the load balancer's proxies and nothing else: one
    over a segment's cidr would make those members `@load-balancer` (or drop the proxies)."""
    problems = []
    for i, text in enumerate(settings.proxy_only_cidrs):
        proxies = ipaddress.ip_network(text)
        for name, seg in intent.segments.items():
            hit = next((c for c in seg.cidrs if c.version == proxies.version and c.overlaps(proxies)), None)
            if hit is not None:
                problems.append(Problem(f"settings.proxyOnlyCidrs[{i}]", (
                    f"{proxies} overlaps {hit} of segment '{name}': a proxy-only subnetwork holds only "
                    "the load balancer's proxies; give its own range, or fix the segment's cidr")))
    return problems
