"""What a change of the spec does: the connections it opens and closes, read
from the two intents (never a text diff, so reordering flows, renaming a
service or splitting a flow in two changes nothing), and per target the
records Pulumi would create, update, replace or delete.

A segment is who its members are, so a new `cidr` moves a segment without
opening anything; a network is its addresses, so widening one opens every
connection its flows allow to the new addresses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.attribution import changed_inputs
from cloudfence.intent import Endpoint, Intent
from cloudfence.plan import Plan, Resource
from cloudfence.ports import PortSet, format_ports, ports_literals
from cloudfence.render import short_type, table

OPENED, CLOSED = "opened", "closed"
CREATE, UPDATE, REPLACE, DELETE = "create", "update", "replace", "delete"


@dataclass(frozen=True)
class Connection:
    """Connections from one name to another on some ports; `addresses` narrows a
    network end to the part of it that changed."""

    change: str  # OPENED | CLOSED
    src: Endpoint
    dst: Endpoint
    ports: PortSet
    addresses: str = ""  # e.g. "corp-vpn +10.201.0.0/16"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"change": self.change, "from": self.src.name, "to": self.dst.name,
                               "ports": _literals(self.ports)}
        if self.addresses:
            out["addresses"] = self.addresses
        return out


@dataclass(frozen=True)
class NameChange:
    """A segment or network added, removed, or changed in what it stands for."""

    kind: str  # "segment" | "network"
    name: str
    change: str  # "added" | "removed" | "changed"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "change": self.change, "detail": self.detail}


@dataclass(frozen=True)
class ResourceChange:
    action: str  # CREATE | UPDATE | REPLACE | DELETE
    type: str
    name: str
    inputs: tuple[str, ...] = ()  # the inputs that changed (update, replace)
    forces: tuple[str, ...] = ()  # those that force the replacement

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "type": self.type, "name": self.name,
                "inputs": list(self.inputs), "forcesReplacement": list(self.forces)}


@dataclass
class TargetChanges:
    provider: str
    resources: list[ResourceChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the target's check refused old or new

    def to_json(self) -> dict[str, Any]:
        counts = {a: sum(1 for r in self.resources if r.action == a)
                  for a in (CREATE, UPDATE, REPLACE, DELETE)}
        return {"provider": self.provider, "counts": counts,
                "resources": [r.to_json() for r in self.resources], "problems": self.problems}


@dataclass
class Changes:
    old: str
    new: str
    connections: list[Connection]
    names: list[NameChange]
    targets: list[TargetChanges] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.connections or self.names or any(t.resources for t in self.targets))

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "changed": self.changed,
                "opened": [c.to_json() for c in self.connections if c.change == OPENED],
                "closed": [c.to_json() for c in self.connections if c.change == CLOSED],
                "names": [n.to_json() for n in self.names],
                "targets": [t.to_json() for t in self.targets]}


# ------------------------------------------------------------- connections


def _literals(ports: PortSet) -> list[str]:
    try:
        return ports_literals(ports)
    except ValueError:  # "other" outside "any": no literal reads it back
        return [format_ports(ports)]


def _cidrs(addresses: AddressSet, most: int = 3) -> str:
    cidrs = [str(c) for c in addresses.cidrs()]
    return ", ".join(cidrs[:most]) + (f" and {len(cidrs) - most} more" if len(cidrs) > most else "")


def _network_addresses(intent: Intent, ep: Endpoint) -> AddressSet | None:
    return intent.networks[ep.name].addresses if ep.kind == "network" else None


def connection_changes(old: Intent, new: Intent) -> list[Connection]:
    """Per (source, destination) name pair: ports added and removed, and for a
    network end whose addresses changed, the kept ports to and from the addresses
    it gained or lost."""
    before = {(f.src.name, f.dst.name): f for f in old.flows}
    after = {(f.src.name, f.dst.name): f for f in new.flows}
    out: list[Connection] = []
    for key in sorted(set(before) | set(after)):
        o, n = before.get(key), after.get(key)
        po = o.ports if o else PortSet()
        pn = n.ports if n else PortSet()
        if o is not None and n is not None and (o.src.kind, o.dst.kind) != (n.src.kind, n.dst.kind):
            out.append(Connection(CLOSED, o.src, o.dst, po, "no longer the same kind of end"))
            out.append(Connection(OPENED, n.src, n.dst, pn, "no longer the same kind of end"))
            continue
        ref = n or o
        assert ref is not None
        if pn - po:
            out.append(Connection(OPENED, ref.src, ref.dst, pn - po))
        if po - pn:
            out.append(Connection(CLOSED, ref.src, ref.dst, po - pn))
        kept = pn & po
        if not kept or o is None or n is None:
            continue
        for side in ("src", "dst"):
            ep: Endpoint = getattr(ref, side)
            a, b = _network_addresses(old, ep), _network_addresses(new, ep)
            if a is None or b is None or a == b:
                continue
            for change, delta, sign in ((OPENED, b - a, "+"), (CLOSED, a - b, "-")):
                if delta:
                    out.append(Connection(change, ref.src, ref.dst, kept, f"{ep.name} {sign}{_cidrs(delta)}"))
    return out


def name_changes(old: Intent, new: Intent) -> list[NameChange]:
    out: list[NameChange] = []
    for name in sorted(set(old.segments) | set(new.segments)):
        a, b = old.segments.get(name), new.segments.get(name)
        if a is None or b is None:
            out.append(NameChange("segment", name, "added" if a is None else "removed"))
            continue
        details = []
        if a.cidrs != b.cidrs:
            was, now = " ".join(map(str, a.cidrs)) or "none", " ".join(map(str, b.cidrs)) or "none"
            details.append(f"cidr {was} -> {now}")
        if a.kubernetes != b.kubernetes:
            details.append(f"kubernetes {_k8s(a.kubernetes)} -> {_k8s(b.kubernetes)}")
        if details:
            out.append(NameChange("segment", name, "changed", "; ".join(details)))
    for name in sorted(set(old.networks) | set(new.networks)):
        na, nb = old.networks.get(name), new.networks.get(name)
        if na is None or nb is None:
            out.append(NameChange("network", name, "added" if na is None else "removed"))
            continue
        a_set, b_set = na.addresses, nb.addresses
        if a_set != b_set:
            parts = [f"+{_cidrs(b_set - a_set)}" if b_set - a_set else "",
                     f"-{_cidrs(a_set - b_set)}" if a_set - b_set else ""]
            out.append(NameChange("network", name, "changed", " ".join(p for p in parts if p)))
    return out


def _k8s(selector: Any) -> str:
    if selector is None:
        return "none"
    labels = ",".join(f"{k}={v}" for k, v in selector.labels)
    return f"{selector.namespace}{{{labels}}}"


def intent_changes(old: Intent, new: Intent, old_name: str, new_name: str) -> Changes:
    return Changes(old_name, new_name, connection_changes(old, new), name_changes(old, new))


# ---------------------------------------------------------------- resources


def resource_changes(old: Plan, new: Plan,
                     replaced_by: Callable[[Resource, Resource], list[str]]) -> list[ResourceChange]:
    """Records keyed as Pulumi keys them (type and logical name): a new key is a
    create, a lost one a delete, changed inputs an update unless the provider
    says one of them forces a replacement."""
    before = {(r.type, r.name): r for r in old.resources}
    after = {(r.type, r.name): r for r in new.resources}
    out: list[ResourceChange] = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[1], k[0])):
        a, b = before.get(key), after.get(key)
        if a is None:
            out.append(ResourceChange(CREATE, *key))
        elif b is None:
            out.append(ResourceChange(DELETE, *key))
        elif a.inputs != b.inputs:
            inputs = tuple(changed_inputs(a.inputs, b.inputs))
            forces = tuple(replaced_by(a, b))
            out.append(ResourceChange(REPLACE if forces else UPDATE, *key, inputs, forces))
    return out


# ---------------------------------------------------------------- rendering


def _connection_rows(connections: Iterable[Connection]) -> list[tuple[str, ...]]:
    return [("+" if c.change == OPENED else "-", c.src.name, c.dst.name, format_ports(c.ports),
             c.addresses or "") for c in connections]


def changes_text(ch: Changes) -> str:
    out = [f"{ch.old} -> {ch.new}"]
    if not ch.changed:
        out.append("no change")
        return "\n".join(out)
    opened = [c for c in ch.connections if c.change == OPENED]
    closed = [c for c in ch.connections if c.change == CLOSED]
    out.append(f"connections: {len(opened)} opened, {len(closed)} closed")
    if ch.connections:
        out.append(table(_connection_rows([*opened, *closed]), ("", "FROM", "TO", "PORTS", "ONLY FOR"),
                         indent="  "))
    if ch.names:
        out.append("segments and networks:")
        out.append(table(((n.change, n.kind, n.name, n.detail) for n in ch.names), indent="  "))
    for t in ch.targets:
        out.append("")
        out += _target_lines(t)
    return "\n".join(out)


def _summary(t: TargetChanges) -> str:
    n = {a: sum(1 for r in t.resources if r.action == a) for a in (CREATE, UPDATE, REPLACE, DELETE)}
    return (f"{n[CREATE]} to create, {n[UPDATE]} to update, {n[REPLACE]} to replace, "
            f"{n[DELETE]} to delete")


def _target_lines(t: TargetChanges) -> list[str]:
    if t.problems:
        return [f"{t.provider}: cannot plan: {t.problems[0]}", *(f"  {p}" for p in t.problems[1:])]
    if not t.resources:
        return [f"{t.provider}: no resource changes"]
    rows = []
    for r in t.resources:
        why = ""
        if r.action == REPLACE:
            why = "REPLACE: " + ", ".join(r.forces) + " cannot change in place"
        elif r.inputs:
            why = ", ".join(r.inputs)
        rows.append((r.action, short_type(r.type), r.name, why))
    return [f"{t.provider}: {_summary(t)}", table(rows, ("ACTION", "TYPE", "NAME", "INPUTS"), indent="  ")]


def changes_markdown(ch: Changes) -> str:
    """For a pull-request comment: the same content as the table, as Markdown tables."""
    out = [f"### cloudfence diff: `{ch.old}` → `{ch.new}`", ""]
    if not ch.changed:
        out.append("No change.")
        return "\n".join(out) + "\n"
    if ch.connections:
        out += ["| | from | to | ports | only for |", "|---|---|---|---|---|"]
        out += [f"| {'**opened**' if c.change == OPENED else 'closed'} | `{c.src.name}` | `{c.dst.name}` | "
                f"`{format_ports(c.ports)}` | {c.addresses} |" for c in ch.connections]
        out.append("")
    else:
        out += ["No connection opened or closed.", ""]
    if ch.names:
        out += ["| change | kind | name | detail |", "|---|---|---|---|"]
        out += [f"| {n.change} | {n.kind} | `{n.name}` | {n.detail} |" for n in ch.names]
        out.append("")
    for t in ch.targets:
        if t.problems:
            out += [f"**{t.provider}**: cannot plan: {t.problems[0]}", ""]
            continue
        if not t.resources:
            out += [f"**{t.provider}**: no resource changes", ""]
            continue
        out += [f"**{t.provider}**: {_summary(t)}", "", "| action | type | name | inputs |",
                "|---|---|---|---|"]
        for r in t.resources:
            why = (f"**replace**: {', '.join(r.forces)} cannot change in place" if r.action == REPLACE
                   else ", ".join(r.inputs))
            out.append(f"| {r.action} | {short_type(r.type)} | `{r.name}` | {why} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"

