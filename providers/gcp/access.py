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

from cloudfence.intent import Intent
from cloudfence.providers.gcp.settings import GOOGLE_API_RANGES, GcpSettings
from cloudfence.routes import Needs, names

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
