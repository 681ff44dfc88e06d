"""Generic record mutations: drop a record, widen a CIDR, widen a port range.

They know no provider: a CIDR is any string input that parses as one, a port
range is a pair of integer inputs named like ports (`fromPort`/`toPort`,
`from`/`to`, `port`/`endPort`) or a string `N` / `N-M` under a key that
names ports. A mutant that changes no connection is discarded by the packet
judge, so a heuristic that hits an unrelated input costs time, not truth.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from cloudfence.plan import Plan, Resource, ref_name

PORT_PAIRS = (("fromPort", "toPort"), ("from", "to"), ("port", "endPort"))
RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
MAX_PORT = 65535


@dataclass(frozen=True)
class Mutant:
    kind: str  # "drop" | "widen-cidr" | "widen-ports"
    record: str
    path: str  # the input changed ("" for a drop)
    before: str
    after: str
    plan: Plan

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop {self.record}"
        return f"{self.kind} {self.record}.{self.path}: {self.before} -> {self.after}"


Path = tuple[str | int, ...]


def _show(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _set(value: Any, path: Path, new: Any) -> Any:
    """A copy of value with the item at path replaced."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_set(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_set(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def wider_cidrs(text: str, deep: bool) -> list[str]:
    """Strictly wider networks for a CIDR string: 8 bits shorter (or /0), and /0 when deep."""
    if "/" not in text:
        return []
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return []
    if net.prefixlen == 0:
        return []
    out = [str(net.supernet(new_prefix=max(0, net.prefixlen - 8)))]
    zero = "0.0.0.0/0" if net.version == 4 else "::/0"
    if deep and zero not in out:
        out.append(zero)
    return out


def _wider(lo: int, hi: int) -> tuple[int, int] | None:
    new = (max(0, lo - 1), min(MAX_PORT, hi + 1))
    return new if new != (lo, hi) and 0 <= lo <= hi <= MAX_PORT else None


def _port_pair(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for a, b in PORT_PAIRS:
        lo = node.get(a)
        if not isinstance(lo, int) or isinstance(lo, bool):
            continue
        hi = node.get(b, lo) if a == "port" else node.get(b)
        if not isinstance(hi, int) or isinstance(hi, bool):
            continue
        new = _wider(lo, hi)
        if new:
            yield {**node, a: new[0], b: new[1]}


def _port_text(text: str) -> str | None:
    m = RANGE.match(text)
    if not m:
        return None
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    new = _wider(lo, hi)
    return f"{new[0]}-{new[1]}" if new else None


def _under_port_key(path: Path) -> bool:
    return any(isinstance(p, str) and "port" in p.lower() for p in path)


def widenings(inputs: dict[str, Any], deep: bool) -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
    """(kind, path, before, after, new inputs) for every widening of one record's inputs."""
    for path, value in _walk(inputs):
        if isinstance(value, str):
            for wider in wider_cidrs(value, deep):
                yield "widen-cidr", _show(path), value, wider, _set(inputs, path, wider)
            text = _port_text(value) if _under_port_key(path) else None
            if text:
                yield "widen-ports", _show(path), value, text, _set(inputs, path, text)
        elif isinstance(value, dict):
            for new in _port_pair(value):
                where = _show(path) or "(inputs)"
                yield "widen-ports", where, _brief(value), _brief(new), _set(inputs, path, new)


def _brief(node: dict[str, Any]) -> str:
    keys = [k for pair in PORT_PAIRS for k in pair if k in node]
    return ", ".join(f"{k}={node[k]}" for k in keys)


def mutants(plan: Plan, deep: bool = False) -> Iterator[Mutant]:
    """Every drop (of a record no other record references: a dangling reference is
    no plan at all) and every widening, in plan order."""
    referenced = {ref_name(v) for r in plan.resources for _, v in _walk(r.inputs)} - {None}
    for i, r in enumerate(plan.resources):
        if r.name not in referenced:
            rest = plan.resources[:i] + plan.resources[i + 1:]
            yield Mutant("drop", r.name, "", "", "", replace(plan, resources=rest))
        for kind, path, before, after, inputs in widenings(r.inputs, deep):
            changed = Resource(r.type, r.name, inputs)
            new = (*plan.resources[:i], changed, *plan.resources[i + 1:])
            yield Mutant(kind, r.name, path, before, after, replace(plan, resources=new))
