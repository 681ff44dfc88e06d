"""Resource names derived from content, fitted to a target's length limit.

A name says what a record holds (segment, direction, peer, ports), never its
position in a list, so editing one flow renames only the records whose content
changed. A name too long for the target is cut and given a digest of its full
content; two different contents that would share a name both get digests.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from cloudfence.addresses import IPNetwork

DIGEST = 8


def digest(text: str, n: int = DIGEST) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def fit(base: str, limit: int, key: str) -> str:
    """`base` if it fits in `limit` characters, else its head and a digest of `key`."""
    if len(base) <= limit:
        return base
    return hashed(base, limit, key)


def hashed(base: str, limit: int, key: str) -> str:
    """The head of `base` and a digest of `key`, at most `limit` characters."""
    head = base[:max(limit - DIGEST - 1, 1)].rstrip("-")
    return f"{head}-{digest(key)}"


def unique(items: Iterable[tuple[str, str]], limit: int, reserved: Iterable[str] = ()) -> dict[str, str]:
    """Content key -> name: the readable base unless it is too long or clashes with
    a reserved name or another key's base; then head + digest of the key."""
    items = list(items)
    taken = set(reserved)
    counts = Counter(base for _, base in items)
    out: dict[str, str] = {}
    for key, base in items:
        if counts[base] > 1 or base in taken or len(base) > limit:
            base = hashed(base, limit, key)
        out[key] = base
    if len(set(out.values())) != len(out):  # a digest clash: astronomically rare, never silent
        raise ValueError("two contents share a name")
    return out


def cidr_label(net: IPNetwork) -> str:
    """10.20.1.0/24 -> 10-20-1-0-24; 2001:db8::/32 -> ipv6-2001-db8-32."""
    if net.version == 4:
        return re.sub(r"[./]", "-", str(net))
    return "ipv6-" + re.sub(r"[^0-9a-f]+", "-", str(net)).strip("-")
