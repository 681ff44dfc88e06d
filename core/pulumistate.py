"""Read a Pulumi state export (`pulumi stack export`, format version 3) as plan records.

The state holds what Pulumi last saw of each resource: its type, the inputs it was
given and, after `pulumi refresh`, the outputs the cloud reports now. A record's
logical name is the URN's last `::` part, as the plan names it; an input value that
is another resource's id becomes `${name.id}`, as the plan writes a reference, so the
evaluators read deployed records exactly as they read compiled ones.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudfence.errors import CloudfenceError, Problem
from cloudfence.plan import Resource, ref

STATE_VERSION = 3
# A secret exported without --show-secrets: {SECRET_SIG: SECRET_VALUE, "ciphertext": ...}.
SECRET_SIG = "4dabf18193072939515e22adb298388d"


@dataclass(frozen=True)
class StateResource:
    """One resource of the state, its inputs and outputs with ids turned into references."""

    urn: str
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""

    def record(self, inputs: dict[str, Any] | None = None) -> Resource:
        return Resource(self.type, self.name, self.inputs if inputs is None else inputs)


def is_state(doc: Any) -> bool:
    return isinstance(doc, dict) and "deployment" in doc and "version" in doc


def read_state(doc: dict[str, Any], file: str, linked: Collection[str] | None = None) -> list[StateResource]:
    """The custom resources of a state export, each named and linked as a plan record. Only
    ids of resources of the `linked` types (None: all) become references: a Kubernetes
    Namespace's id is its name, which a policy's `metadata.namespace` holds as a plain value."""
    if doc.get("version") != STATE_VERSION:
        raise CloudfenceError(Problem("version", f"state export version {doc.get('version')!r}: cloudfence "
                                      f"reads version {STATE_VERSION} (pulumi stack export)", file))
    deployment = doc.get("deployment")
    raw = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(raw, list):
        raise CloudfenceError(Problem("deployment.resources", "expected the list of resources "
                                      "`pulumi stack export` writes", file))
    problems = _pending(deployment.get("pending_operations") if isinstance(deployment, dict) else None,
                        file, linked)
    found: list[tuple[str, dict[str, Any]]] = []
    for i, r in enumerate(raw):
        where = f"deployment.resources[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("urn"), str) or not isinstance(r.get("type"), str):
            problems.append(Problem(where, "expected a resource with urn and type", file))
            continue
        if r.get("custom") is False or r["type"].startswith("pulumi:"):
            continue  # stacks, components and provider instances hold no rules
        if r.get("pendingReplacement"):
            continue  # deleted already, its replacement not yet created
        for key in ("inputs", "outputs"):
            if not isinstance(r.get(key, {}), dict):
                problems.append(Problem(f"{where}.{key}", "expected an object", file))
        found.append((where, r))
    if problems:
        raise CloudfenceError(problems)
    names = _names(found, file)
    ids = {r["id"]: names[where] for where, r in found if isinstance(r.get("id"), str) and r["id"]
           and (linked is None or r["type"] in linked)}
    out = []
    for where, r in found:
        out.append(StateResource(
            urn=r["urn"], type=r["type"], name=names[where], id=str(r.get("id") or ""),
            inputs=_linked(_plain(r.get("inputs") or {}), ids),
            outputs=_linked(_plain(r.get("outputs") or {}), ids),
            parent=str(r.get("parent") or "")))
    return out


def _pending(ops: Any, file: str, linked: Collection[str] | None) -> list[Problem]:
    """An update that stopped midway leaves `pending_operations`: a resource being created may
    exist in the cloud with no entry in `resources`, so the state cannot say what is deployed."""
    out = []
    for i, op in enumerate(ops if isinstance(ops, list) else [ops] if ops else []):
        res = op.get("resource") if isinstance(op, dict) else None
        rtype = res.get("type") if isinstance(res, dict) else None
        if linked is not None and isinstance(rtype, str) and rtype not in linked:
            continue
        what = "an operation"
        if isinstance(op, dict) and isinstance(res, dict):
            what = f"{op.get('type')} {res.get('urn')}"
        out.append(Problem(f"deployment.pending_operations[{i}]", f"an interrupted update left {what} "
                           "pending: it may exist unrecorded; resolve it with `pulumi refresh` and export "
                           "again", file))
    return out


def _names(found: list[tuple[str, dict[str, Any]]], file: str) -> dict[str, str]:
    """The URN's last part, unless two resources share it (different types or parents):
    then those are named by type and name, so no record hides another."""
    # An old resource awaiting deletion after a replacement still exists, so it is judged too.
    short = {where: r["urn"].rsplit("::", 1)[-1] + (" (pending deletion)" if r.get("delete") else "")
             for where, r in found}
    taken: dict[str, int] = {}
    for name in short.values():
        taken[name] = taken.get(name, 0) + 1
    out = {}
    for where, r in found:
        name = short[where]
        out[where] = name if taken[name] == 1 else f"{r['type']}::{name}"
    if len(set(out.values())) != len(out):
        dup = sorted(n for n in out.values() if list(out.values()).count(n) > 1)[0]
        raise CloudfenceError(Problem("deployment.resources", f"two resources are named {dup!r}", file))
    return out


def _plain(value: Any) -> Any:
    """Drop Pulumi's own bookkeeping (`__defaults`, `__meta`): it is no input of the resource.
    A secret exported with --show-secrets is its plaintext value; one without stays sealed."""
    if isinstance(value, dict):
        if SECRET_SIG in value and isinstance(value.get("plaintext"), str):
            try:
                return _plain(json.loads(value["plaintext"]))
            except ValueError:
                return value
        return {k: _plain(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _linked(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return ref(ids[value]) if value in ids else value
    if isinstance(value, dict):
        return {k: _linked(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_linked(v, ids) for v in value]
    return value


def secret_paths(value: Any, path: str) -> list[str]:
    """Where a value holds a secret that the export did not reveal."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return [path]
        return [p for k, v in value.items() for p in secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


def sealed(value: Any, path: str, file: str = "") -> list[Problem]:
    """A secret the export did not reveal could hide anything: refused where it is."""
    return [Problem(p, "is a secret the export does not show: export the stack with "
                    "`pulumi stack export --show-secrets`", file) for p in secret_paths(value, path)]
