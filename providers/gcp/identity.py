"""Segment identity on GCP: what a workload carries to join a segment.

A network tag derived from the spec and segment names (valid, at most 63
characters, the same every run), or with `identity: serviceAccount` the
service account its workloads run as. One kind for the whole plan: GCP
refuses rules that mix tags and service accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudfence.intent import Intent
from cloudfence.memo import remembered
from cloudfence.names import unique
from cloudfence.providers.gcp.settings import SERVICE_ACCOUNT, TAG, GcpSettings

TAG_LIMIT = 63


@dataclass(frozen=True)
class Identity:
    kind: str  # "networkTag" | "serviceAccount": the export key, too
    value: str

    @property
    def source_key(self) -> str:
        return "sourceTags" if self.kind == TAG else "sourceServiceAccounts"

    @property
    def target_key(self) -> str:
        return "targetTags" if self.kind == TAG else "targetServiceAccounts"


def network_tags(intent: Intent) -> dict[str, str]:
    """Segment -> its network tag: `<spec>-<segment>`, cut with a digest past 63 characters."""
    named = unique([(seg, f"{intent.name}-{seg}") for seg in intent.segments], max_len=TAG_LIMIT)
    return {seg: named[seg] for seg in intent.segments}


@remembered
def identities(intent: Intent, settings: GcpSettings) -> dict[str, Identity]:
    """Segment -> identity; check has made sure every segment has a service account."""
    if settings.identity == SERVICE_ACCOUNT:
        return {seg: Identity(SERVICE_ACCOUNT, settings.service_accounts[seg]) for seg in intent.segments}
    return {seg: Identity(TAG, tag) for seg, tag in network_tags(intent).items()}
