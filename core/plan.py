"""Plans: the resource records a provider compiles, as pure data.

A record is what Pulumi would register: type token, logical name and inputs
under their wire names. A value that is another resource's output is written
`${<logical name>.<output>}`; `refs` names those resources so that readers can
order and link records without parsing strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cloudfence.intent import Flow
from cloudfence.ports import ports_literals

FORMAT = 1  # the version of the plan JSON (DESIGN section 6)
REF = re.compile(r"^\$\{(?P<name>[^{}]+)\.(?P<output>[A-Za-z][A-Za-z0-9]*)\}$")


def ref(name: str, output: str = "id") -> str:
    """The plan's spelling of another resource's output."""
    return f"${{{name}.{output}}}"


def ref_name(value: Any) -> str | None:
    """The logical name a `${name.output}` value refers to; None for any other value."""
    m = REF.match(value) if isinstance(value, str) else None
    return m.group("name") if m else None


def find_refs(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """Yield (input path, logical name, output) for every reference in a value, in the
    order of its keys and items."""
    found: list[tuple[str, str, str]] = []
    _collect_refs(value, path, found)
    return iter(found)


def _collect_refs(value: Any, path: str, found: list[tuple[str, str, str]]) -> None:
    """Every plan serialisation walks every record's inputs, so the walk appends to one
    list and names a path only where it descends or finds a reference."""
    if isinstance(value, str):
        m = REF.match(value) if value.startswith("${") else None
        if m:
            found.append((path, m.group("name"), m.group("output")))
        return
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
        dotted = True
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
        dotted = False
    else:
        return
    for k, v in items:
        if isinstance(v, str):
            if not v.startswith("${"):
                continue
        elif not isinstance(v, (dict, list, tuple)):
            continue
        _collect_refs(v, (f"{path}.{k}" if path else str(k)) if dotted else f"{path}[{k}]", found)


def ref_names(value: Any) -> set[str]:
    """The logical names a value refers to: what `ordered` needs of every record, found
    without the input paths `find_refs` builds (the walk takes about a third less time)."""
    found: set[str] = set()
    stack: list[Any] = [[value]]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            values: Iterable[Any] = item.values()
        elif isinstance(item, (list, tuple)):
            values = item
        else:
            continue
        for v in values:
            if isinstance(v, str):
                if v.startswith("${") and (m := REF.match(v)):
                    found.add(m.group("name"))
            elif isinstance(v, (dict, list, tuple)):
                stack.append(v)
    return found


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]

    @property
    def refs(self) -> dict[str, str]:
        return {path: name for path, name, _ in find_refs(self.inputs)}

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "inputs": self.inputs, "refs": self.refs}


@dataclass(frozen=True)
class Plan:
    spec: str
    provider: str
    resources: tuple[Resource, ...]
    # Flows the provider adds on purpose (e.g. DNS to the cluster resolver), shown
    # by plan and verify and counted as intended.
    implied: tuple[Flow, ...] = ()
    # Per segment, what a workload attaches to join it; values may be references.
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The provider settings as validated (its model's JSON): what the plan was compiled with,
    # including the internal space and egress addresses that give `internet` its meaning.
    settings: dict[str, Any] = field(default_factory=dict)
    # What the flows need to carry traffic that the plan does not create and the user
    # brings (routes, gateway endpoints, addresses): shown by plan, and by verify as
    # assumptions, since verify judges the filters only.
    requires: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def by_type(self, type_token: str) -> list[Resource]:
        return list(self._by_type.get(type_token, ()))

    @cached_property
    def _by_type(self) -> dict[str, list[Resource]]:
        """Filed once: check and verify ask for one type many times over thousands of records."""
        out: dict[str, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(r.type, []).append(r)
        return out

    def entries(self, type_token: str, *path: str) -> int:
        """How many list items the records of one type hold at an input path (inline
        rules: `securityRules`, `spec.ingress`); a value that is no list counts none."""
        total = 0
        for r in self.by_type(type_token):
            value: Any = r.inputs
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            total += len(value) if isinstance(value, list) else 0
        return total

    def get(self, name: str) -> Resource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        requires = {"requires": list(self.requires)} if self.requires else {}  # omitted when empty
        return {
            "format": FORMAT,
            "spec": self.spec,
            "provider": self.provider,
            "resources": [r.to_json() for r in self.resources],
            "settings": self.settings,
            "exports": self.exports,
            "implied": [{"from": f.src.name, "to": f.dst.name, "ports": ports_literals(f.ports)}
                        for f in self.implied],
            **requires,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


def ordered(resources: Iterable[Resource]) -> tuple[Resource, ...]:
    """Dependencies first, otherwise by (type, name): the same plan bytes every run,
    and an order in which the emitter can resolve every reference."""
    items = sorted(resources, key=lambda r: (r.type, r.name))
    by_name = {r.name: r for r in items}
    if len(by_name) != len(items):
        names = [r.name for r in items]
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two resources share the logical name {dup!r}")
    out: list[Resource] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(r: Resource) -> None:
        if r.name in done:
            return
        if r.name in visiting:
            raise ValueError(f"reference cycle through {r.name!r}")
        visiting.add(r.name)
        for dep in sorted(ref_names(r.inputs)):
            if dep not in by_name:
                raise ValueError(f"{r.name!r} references unknown resource {dep!r}")
            visit(by_name[dep])
        visiting.discard(r.name)
        done.add(r.name)
        out.append(r)

    for r in items:
        visit(r)
    return tuple(out)


@dataclass(frozen=True)
class DeployedRecords:
    """Plan records a provider read from deployed state (`verify --deployed`), with what the
    reading rests on and what differs that the records themselves cannot show."""

    resources: tuple[Resource, ...]
    # Printed with the verdict as assumptions: what was read, and what was not.
    notes: tuple[str, ...] = ()
    # (segment, place, what differs): reported as export differences, e.g. a group of the
    # spec that lost its segment tag, so its members are judged as no segment's.
    drift: tuple[tuple[str, str, str], ...] = ()
