"""AWS descriptions and tags; logical names come from cloudfence.names.

A rule's logical name says what it allows (segment, direction, protocol,
ports, peer), never where it sits in a list, so editing one flow renames
only the rules whose content changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cloudfence.names import TAG_SEGMENT as TAG_SEGMENT
from cloudfence.names import TAG_SPEC as TAG_SPEC
from cloudfence.names import cidr_label, digest, ports_label, unique

__all__ = ["cidr_label", "description", "digest", "ports_label", "tags", "unique"]

MAX_NAME = 100  # the core's default for unique(): Pulumi names have no limit, this keeps them readable
SG_DESCRIPTION = "cloudfence segment"  # constant: changing it would replace the group
TAG_FLOWS = "cloudfence:flows"
TAG_ENDPOINT = "cloudfence:endpoint"  # on the group cloudfence creates for a platform endpoint
TAG_GROUP = "cloudfence:group"  # on a segment's extra groups: 2, 3, ...
# Characters AWS accepts in security group rule descriptions.
_DESCRIPTION_BAD = re.compile(r"[^a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+")


def description(text: str) -> str:
    """A rule description AWS accepts: allowed characters only, at most 255."""
    clean = re.sub(r"\s+", " ", _DESCRIPTION_BAD.sub(" ", text)).strip()
    return clean[:255].rstrip()


def tags(spec: str, segment: str | None = None, name: str | None = None,
         flows: Iterable[str] = ()) -> dict[str, str]:
    out = {}
    if name:
        out["Name"] = name
    out[TAG_SPEC] = spec
    if segment is not None:
        out[TAG_SEGMENT] = segment
    keys = ", ".join(sorted(set(flows)))
    if keys:
        out[TAG_FLOWS] = keys if len(keys) <= 256 else keys[:247].rsplit(", ", 1)[0] + ", ..."
    return out
