"""Logical names, descriptions and tags, all derived from content.

A rule's logical name says what it allows (segment, direction, protocol,
ports, peer), never where it sits in a list, so editing one flow renames
only the rules whose content changed. Pulumi names are not length-limited,
but long ones are shortened with a content hash to stay readable, and the
rare clash between two different contents gets a hash suffix on both.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from cloudfence.addresses import IPNetwork

MAX_NAME = 100
SG_DESCRIPTION = "cloudfence segment"  # constant: changing it would replace the group
TAG_SPEC = "cloudfence:spec"
TAG_SEGMENT = "cloudfence:segment"
TAG_FLOWS = "cloudfence:flows"
TAG_GROUP = "cloudfence:group"  # on a segment's extra groups: 2, 3, ...
# Characters AWS accepts in security group rule descriptions.
_DESCRIPTION_BAD = re.compile(r"[^a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+")


def digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def cidr_label(net: IPNetwork) -> str:
    """10.20.1.0/24 -> 10-20-1-0-24; ::/0 -> ipv6-0; 2001:db8::/32 -> ipv6-2001-db8-32."""
    if net.version == 4:
        return re.sub(r"[./]", "-", str(net))
    return "ipv6-" + re.sub(r"[^0-9a-f]+", "-", str(net)).strip("-")


def ports_label(proto: str, lo: int, hi: int, full: bool) -> str:
    """tcp-80, tcp-8000-8002, udp-53; the protocol alone when it has no ports."""
    if full:
        return proto
    return f"{proto}-{lo}" if lo == hi else f"{proto}-{lo}-{hi}"


def unique(items: Iterable[tuple[str, str]], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Map content keys to names: the readable base name unless it is too long or
    clashes (with a reserved name or another key's base), then base + content hash."""
    items = list(items)
    taken = set(reserved)
    counts = Counter(base for _, base in items)
    out: dict[str, str] = {}
    for key, base in items:
        if counts[base] > 1 or base in taken or len(base) > MAX_NAME:
            base = f"{base[:MAX_NAME - 9].rstrip('-')}-{digest(key)}"
        out[key] = base
    return out


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
