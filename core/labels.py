"""Kubernetes names and labels exactly as the API server validates them
(k8s.io/apimachinery/pkg/util/validation), so a spec that validates here is
never refused by the cluster, and one the cluster would refuse fails here first.

Each check returns what is wrong and what to write instead, or None.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"\A[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"\A[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\Z")
QUALIFIED_NAME = re.compile(r"\A(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
LABEL_VALUE = re.compile(r"\A(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def _suggest(text: str, allowed: str, lower: bool = False) -> str:
    """A nearby valid spelling: disallowed characters become '-', ends trimmed."""
    if lower:
        text = text.lower()
    fixed = re.sub(r"-+", "-", "".join(c if (c.isascii() and (c.isalnum() or c in allowed)) else "-"
                                       for c in text))
    return fixed.strip("-_.")[:LABEL_MAX].strip("-_.")


def namespace_problem(name: str) -> str | None:
    if len(name) <= LABEL_MAX and DNS1123_LABEL.match(name):
        return None
    fix = _suggest(name, "-", lower=True)
    hint = f" (e.g. '{fix}')" if fix and DNS1123_LABEL.match(fix) else ""
    return (f"invalid namespace '{name}': a namespace is lowercase letters, digits and '-', starting and "
            f"ending with a letter or digit, at most {LABEL_MAX} characters{hint}")


def label_key_problem(key: str) -> str | None:
    """`[prefix/]name`: the prefix a DNS subdomain of at most 253 characters, the
    name at most 63 characters of letters, digits, '-', '_' and '.', starting and
    ending alphanumeric."""
    parts = key.split("/")
    if len(parts) > 2:
        return f"invalid label key '{key}': at most one '/' (write prefix/name, e.g. example.com/tier)"
    prefix, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    if prefix is not None:
        if not prefix:
            return f"invalid label key '{key}': the prefix before '/' is empty; write '{name}' or " \
                   f"example.com/{name}"
        if len(prefix) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.match(prefix):
            fix = ".".join(p for p in (_suggest(s, "-", lower=True) for s in prefix.split(".")) if p)
            hint = f" (e.g. '{fix}/{name}')" if fix and DNS1123_SUBDOMAIN.match(fix) else ""
            return (f"invalid label key '{key}': the prefix '{prefix}' must be a DNS subdomain: lowercase "
                    f"labels of letters, digits and '-' joined by '.', at most {SUBDOMAIN_MAX} "
                    f"characters{hint}")
    if not name:
        return f"invalid label key '{key}': the name is empty"
    if len(name) > LABEL_MAX or not QUALIFIED_NAME.match(name):
        fix = _suggest(name, "-_.")
        whole = f"{prefix}/{fix}" if prefix is not None else fix
        hint = f" (e.g. '{whole}')" if fix and QUALIFIED_NAME.match(fix) and fix != name else ""
        return (f"invalid label key '{key}': the name '{name}' must be at most {LABEL_MAX} characters of "
                f"letters, digits, '-', '_' and '.', starting and ending with a letter or digit{hint}")
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) <= LABEL_MAX and LABEL_VALUE.match(value):
        return None
    fix = _suggest(value, "-_.")
    hint = f" (e.g. '{fix}')" if fix and LABEL_VALUE.match(fix) and fix != value else ""
    return (f"invalid label value '{value}': at most {LABEL_MAX} characters of letters, digits, '-', '_' "
            f"and '.', starting and ending with a letter or digit (or empty){hint}")
