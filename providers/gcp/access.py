"""What the flows need on GCP beyond firewall rules to carry traffic.

`@object-storage` is the Private Google Access ranges (settings.googleApiAccess): in
network mode the subnetworks of the segments whose flows reach it get Private Google
Access (`privateIpGoogleAccess`); DNS that sends Google APIs to those ranges, and on
an existing network the subnetworks' Private Google Access and the route to the ranges,
are the user's, and the plan lists them. `internet` needs no record: a network GCP
creates has a default route to the internet gateway, so the plan lists only what the
members need to use it (external addresses or Cloud NAT).
"""

from __future__ import annotations

import ipaddress

from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.plan import Plan, ref
from cloudfence.providers.gcp.settings import GOOGLE_API_RANGES, GcpSettings
from cloudfence.providers.gcp.wire import NETWORK, SUBNETWORK
from cloudfence.routes import Needs, names, reaching_object_storage

HOSTS = {"private": "private.googleapis.com", "restricted": "restricted.googleapis.com"}


def google_access(wanted: Needs, segment: str) -> dict[str, bool]:
    """A created subnetwork's Private Google Access input (none when it is not needed)."""
    return {"privateIpGoogleAccess": True} if segment in wanted.storage else {}


def requirements(intent: Intent, wanted: Needs, settings: GcpSettings) -> list[str]:
    out = []
    if wanted.storage:
        host = HOSTS[settings.google_api_access]
        ranges = ", ".join(GOOGLE_API_RANGES[settings.google_api_access])
        out.append(f"DNS resolves Google APIs (storage.googleapis.com) for {names(wanted.storage)} "
                   f"to {host} ({ranges}), e.g. a Cloud DNS private zone for googleapis.com: the rules "
                   "allow only those addresses")
        bare = wanted.storage if not settings.network_mode else \
            tuple(s for s in wanted.storage if not intent.segments[s].cidrs)
        if bare:
            out.append(f"the subnetworks of {names(bare)} have Private Google Access enabled and the "
                       f"network routes {ranges} to the default internet gateway")
    if wanted.internet:
        route = "" if settings.network_mode else \
            "the network routes 0.0.0.0/0 (and ::/0 for IPv6) to the default internet gateway, and "
        out.append(f"{route}members of {names(wanted.internet)} that send to or receive from the internet "
                   "have external IP addresses (or send through Cloud NAT: list its addresses in "
                   "settings.egressIps)")
    return out


# ------------------------------------------------------------ reading (verify)

PGA = "privateIpGoogleAccess"
REGENERATE = "regenerate the plan with cloudfence plan"


def _network_mode(plan: Plan) -> bool:
    """The plan creates the network and its subnetworks (a part of a plan, as attribution
    reads one, may hold the network alone: nothing to check there)."""
    created = {ref(n.name) for n in plan.by_type(NETWORK)}
    return any(s.inputs.get("network") in created for s in plan.by_type(SUBNETWORK))


def _segment_subnetworks(plan: Plan, intent: Intent) -> dict[str, list[tuple[str, str, object]]]:
    """Segment -> (its IPv4 cidr, the subnetwork of the created network with that range
    ("" if none), that subnetwork's Private Google Access input). A subnetwork belongs to
    the segment whose addresses it holds, whatever its name or description says."""
    created = {ref(n.name) for n in plan.by_type(NETWORK)}
    by_range = {str(s.inputs.get("ipCidrRange")): s for s in plan.by_type(SUBNETWORK)
                if s.inputs.get("network") in created}
    out: dict[str, list[tuple[str, str, object]]] = {}
    for seg, segment in sorted(intent.segments.items()):
        for cidr in segment.cidrs:
            if isinstance(cidr, ipaddress.IPv4Network):
                sub = by_range.get(str(cidr))
                out.setdefault(seg, []).append(
                    (str(cidr), sub.name if sub else "", sub.inputs.get(PGA) if sub else None))
    return out


def access_problems(plan: Plan, intent: Intent) -> list[Problem]:
    """In network mode (the plan creates the network and subnetworks): a segment whose flows reach
    `@object-storage` on a subnetwork without Private Google Access (the flow would be
    allowed and never carried), Private Google Access on a segment none of whose flows
    reaches it, or an input that is not a boolean."""
    if not _network_mode(plan):
        return []
    storage = reaching_object_storage(intent)
    out = [Problem(f"resources.{s.name}.inputs.{PGA}", f"must be true or false, not {s.inputs[PGA]!r}; "
                   f"{REGENERATE}") for s in plan.by_type(SUBNETWORK)
           if PGA in s.inputs and not isinstance(s.inputs[PGA], bool)]
    if out:
        return out
    for seg, found in _segment_subnetworks(plan, intent).items():
        for cidr, sub, access in found:
            if seg in storage and not sub:
                out.append(Problem(f"resources.{plan.by_type(NETWORK)[0].name}", (
                    f"the plan's network has no subnetwork {cidr} for segment '{seg}', whose flows reach "
                    f"@object-storage: it would have no Private Google Access; {REGENERATE}")))
            elif seg in storage and access is not True:
                out.append(Problem(f"resources.{sub}.inputs.{PGA}", (
                    f"subnetwork {sub} ({cidr}) of segment '{seg}', whose flows reach @object-storage, has "
                    f"no Private Google Access: the flows would be allowed and never carried; {REGENERATE}")))
            elif seg not in storage and access is True:
                out.append(Problem(f"resources.{sub}.inputs.{PGA}", (
                    f"subnetwork {sub} ({cidr}) of segment '{seg}' has Private Google Access, but no flow of "
                    f"'{seg}' reaches @object-storage: remove it ({REGENERATE})")))
    return out


def access_assumptions(plan: Plan, intent: Intent) -> list[str]:
    """Private Google Access as the plan's subnetworks say (network mode only)."""
    if not _network_mode(plan):
        return []
    on = sorted(seg for seg, found in _segment_subnetworks(plan, intent).items()
                if found and all(access is True for _, _, access in found))
    which = f"on for the subnetworks of {names(on)} and off for the others" if on else \
        "off for every subnetwork"
    return [f"Private Google Access is as the plan's subnetworks say: {which}"]
