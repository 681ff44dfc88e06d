"""The spec as a picture: segments grouped where they run (a Kubernetes namespace,
or outside the cluster), networks, `internet` and platform endpoints as nodes,
and every merged flow as one labelled edge; plus the segment-to-segment matrix.

Built once as plain data (`Graph`) so that Mermaid, DOT and JSON say the same
thing, and so a test can read the structure without a renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloudfence.intent import INTERNET, Endpoint, Intent
from cloudfence.ports import format_ports
from cloudfence.render import table

OUTSIDE = "outside"  # the group of segments with no kubernetes mapping, when some have one


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    kind: str  # "segment" | "network" | "internet" | "platform"
    detail: str = ""  # cidrs, pod labels
    group: str = ""  # a Group id, or "" at the top level


@dataclass(frozen=True)
class Group:
    id: str
    label: str


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str
    flows: tuple[int, ...]


@dataclass
class Graph:
    name: str
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.name,
                "groups": [{"id": g.id, "label": g.label} for g in self.groups],
                "nodes": [{"id": n.id, "name": n.name, "kind": n.kind, "detail": n.detail,
                           "group": n.group or None} for n in self.nodes],
                "edges": [{"from": e.src, "to": e.dst, "ports": e.label,
                           "specFlows": [f"flows[{i}]" for i in e.flows]} for e in self.edges]}


def node_id(ep: Endpoint) -> str:
    """Identifiers both Mermaid and DOT accept unquoted: names hold only [a-z0-9-]."""
    prefix = {"segment": "seg", "network": "net", "platform": "ep"}[ep.kind]
    return f"{prefix}_{re.sub(r'[^a-z0-9]', '_', ep.name.lstrip('@'))}"


def build_graph(intent: Intent) -> Graph:
    g = Graph(intent.name)
    in_cluster = any(s.kubernetes for s in intent.segments.values())
    groups: dict[str, Group] = {}
    for seg in intent.segments.values():
        detail = " ".join(map(str, seg.cidrs))
        if seg.kubernetes is not None:
            gid = "ns_" + re.sub(r"[^a-z0-9]", "_", seg.kubernetes.namespace)
            groups.setdefault(gid, Group(gid, f"namespace {seg.kubernetes.namespace}"))
            labels = ",".join(f"{k}={v}" for k, v in seg.kubernetes.labels)
            detail = " ".join(p for p in (labels, detail) if p)
        elif in_cluster:
            gid = OUTSIDE
            groups.setdefault(gid, Group(gid, "outside Kubernetes"))
        else:
            gid = ""
        g.nodes.append(Node(node_id(Endpoint("segment", seg.name)), seg.name, "segment", detail, gid))
    g.groups = sorted(groups.values(), key=lambda x: (x.id == OUTSIDE, x.id))
    named = {ep for f in intent.flows for ep in (f.src, f.dst) if not ep.is_segment}
    for ep in sorted(named):
        if ep.kind == "network":
            net = intent.networks[ep.name]
            kind = INTERNET if ep.name == INTERNET else "network"
            detail = "public address space" if net.builtin else " ".join(map(str, net.cidrs()))
        else:
            kind, detail = "platform", "platform endpoint"
        g.nodes.append(Node(node_id(ep), ep.name, kind, detail))
    g.edges = [Edge(node_id(f.src), node_id(f.dst), format_ports(f.ports), f.origins) for f in intent.flows]
    return g


# ---------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid_node(n: Node) -> str:
    label = _mermaid_text(n.name + (f"<br/>{n.detail}" if n.detail else ""))
    shape = {"segment": ('["', '"]'), "network": ('[/"', '"/]'), INTERNET: ('(("', '"))'),
             "platform": ('{{"', '"}}')}[n.kind]
    return f"{n.id}{shape[0]}{label}{shape[1]}"


def mermaid(g: Graph) -> str:
    out = ["flowchart LR"]
    for grp in g.groups:
        out.append(f'  subgraph {grp.id}["{_mermaid_text(grp.label)}"]')
        out += [f"    {_mermaid_node(n)}" for n in g.nodes if n.group == grp.id]
        out.append("  end")
    out += [f"  {_mermaid_node(n)}" for n in g.nodes if not n.group]
    out += [f'  {e.src} -->|"{_mermaid_text(e.label)}"| {e.dst}' for e in g.edges]
    return "\n".join(out)


# ---------------------------------------------------------------- DOT


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_node(n: Node) -> str:
    shape = {"segment": "box", "network": "parallelogram", INTERNET: "ellipse", "platform": "hexagon"}[n.kind]
    label = _dot_string(n.name + (f"\n{n.detail}" if n.detail else "")).replace("\n", "\\n")
    return f"{n.id} [label={label}, shape={shape}];"


def dot(g: Graph) -> str:
    out = [f"digraph {_dot_string(g.name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    for grp in g.groups:
        out.append(f"  subgraph cluster_{grp.id} {{")
        out.append(f"    label={_dot_string(grp.label)};")
        out += [f"    {_dot_node(n)}" for n in g.nodes if n.group == grp.id]
        out.append("  }")
    out += [f"  {_dot_node(n)}" for n in g.nodes if not n.group]
    out += [f"  {e.src} -> {e.dst} [label={_dot_string(e.label)}];" for e in g.edges]
    out.append("}")
    return "\n".join(out)


# ---------------------------------------------------------------- matrix


def matrix(intent: Intent) -> dict[str, dict[str, str]]:
    """from segment -> to segment -> ports ("" where no flow connects them)."""
    names = list(intent.segments)
    out = {a: dict.fromkeys(names, "") for a in names}
    for f in intent.flows:
        if f.src.is_segment and f.dst.is_segment:
            out[f.src.name][f.dst.name] = format_ports(f.ports)
    return out


def matrix_text(intent: Intent) -> str:
    m = matrix(intent)
    names = list(m)
    rows = [(a, *(m[a][b] or "-" for b in names)) for a in names]
    return table(rows, ("FROM \\ TO", *names))


def matrix_json(intent: Intent) -> dict[str, Any]:
    return {"spec": intent.name, "segments": list(intent.segments),
            "matrix": {a: {b: p for b, p in row.items() if p} for a, row in matrix(intent).items()}}
