"""Logical and physical names derived from content, for every provider.

A record's name says what it holds (segment, direction, protocol, ports, peer),
never where it sits in a list, so editing one flow renames only the records
whose content changed. Names over a target's length limit, and the rare clash
between two different contents, get a short content digest instead.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from cloudfence.addresses import IPNetwork

DIGEST = 8
# The tags (labels) every cloud's records carry: `verify --deployed` maps deployed groups back
# to their spec and segment by them, so every provider writes the same keys.
TAG_SPEC = "cloudfence:spec"
TAG_SEGMENT = "cloudfence:segment"
# The labels of the Kubernetes objects cloudfence writes (NetworkPolicies, and the AWS
# provider's SecurityGroupPolicies), read back the same way.
MANAGED_BY = {"app.kubernetes.io/managed-by": "cloudfence"}
SPEC_LABEL = "cloudfence.io/spec"
SEGMENT_LABEL = "cloudfence.io/segment"


def digest(text: str, n: int = DIGEST) -> str:
    """A stable hex digest of `text` (the same on every run and machine)."""
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


def shortened(base: str, key: str, max_len: int) -> str:
    """`base` cut to fit `max_len` with the digest of `key` appended: `<base...>-<digest>`."""
    return f"{base[:max_len - DIGEST - 1].rstrip('-')}-{digest(key)}"


def unique(items: Iterable[tuple[str, str]], reserved: Iterable[str] = (),
           max_len: int = 100) -> dict[str, str]:
    """Map content keys to names: the readable base name unless it is too long or clashes
    (with a reserved name or another key's base), then the base shortened plus the key's digest.

    `items` are (content key, base name); the content key must say everything the record
    holds, so two different records never share a digest."""
    items = list(items)
    taken = set(reserved)
    counts = Counter(base for _, base in items)
    out: dict[str, str] = {}
    for key, base in items:
        if counts[base] > 1 or base in taken or len(base) > max_len:
            base = shortened(base, key, max_len)
        out[key] = base
    return out
