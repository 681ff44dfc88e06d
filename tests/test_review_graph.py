"""`cloudfence graph` as a user runs it: Mermaid and DOT read back line by line
(node declarations, edges, groups), SVG through Graphviz when it is installed,
and the segment matrix."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cloudfence.intent import load_intent
from cloudfence.ports import format_ports
from tests.fakeplugin import EXAMPLE, run_cli

INTENT = load_intent(EXAMPLE)
FLOWS = {(f.src.name, f.dst.name, format_ports(f.ports)) for f in INTENT.flows}

MERMAID_NODE = re.compile(r'^(?P<id>\w+)(?:\["|\[/"|\(\("|\{\{")(?P<label>[^"]*)(?:"\]|"/\]|"\)\)|"\}\})$')
MERMAID_EDGE = re.compile(r'^(?P<src>\w+) -->\|"(?P<label>[^"]*)"\| (?P<dst>\w+)$')
MERMAID_GROUP = re.compile(r'^subgraph (?P<id>\w+)\["(?P<label>[^"]*)"\]$')


Parsed = tuple[dict[str, str], dict[str, str], set[tuple[str, str, str]], dict[str, str]]


def parse_mermaid(text: str) -> Parsed:
    """(node id -> name, node id -> group id, edges, group id -> label); fails on any other line."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    names: dict[str, str] = {}
    group_of: dict[str, str] = {}
    groups: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    current: str | None = None
    for raw in lines[1:]:
        line = raw.strip()
        if m := MERMAID_GROUP.match(line):
            assert current is None, "nested subgraph"
            current = m["id"]
            groups[current] = m["label"]
        elif line == "end":
            assert current is not None
            current = None
        elif m := MERMAID_EDGE.match(line):
            edges.add((m["src"], m["dst"], m["label"]))
        elif m := MERMAID_NODE.match(line):
            assert m["id"] not in names, f"{m['id']} declared twice"
            names[m["id"]] = m["label"].split("<br/>")[0]
            if current:
                group_of[m["id"]] = current
        else:
            raise AssertionError(f"unexpected Mermaid line: {raw!r}")
    assert current is None, "unclosed subgraph"
    return names, group_of, edges, groups


def test_mermaid_holds_every_segment_group_and_flow(env: dict[str, str]) -> None:
    proc = run_cli(["graph", EXAMPLE], env)
    assert proc.returncode == 0, proc.stderr
    names, group_of, edges, groups = parse_mermaid(proc.stdout)
    assert set(INTENT.segments) <= set(names.values())
    assert {"internet", "corp-vpn"} <= set(names.values())
    by_name = {v: k for k, v in names.items()}
    assert groups[group_of[by_name["gateway"]]] == "namespace serving"
    assert group_of[by_name["gateway"]] == group_of[by_name["inference"]]
    assert groups[group_of[by_name["vector-db"]]] == "outside Kubernetes"
    assert by_name["internet"] not in group_of
    assert all(src in names and dst in names for src, dst, _ in edges)
    assert {(names[s], names[d], label) for s, d, label in edges} == FLOWS


DOT_NODE = re.compile(r'^(?P<id>\w+) \[label="(?P<label>(?:[^"\\]|\\.)*)", shape=\w+\];$')
DOT_EDGE = re.compile(r'^(?P<src>\w+) -> (?P<dst>\w+) \[label="(?P<label>[^"]*)"\];$')


def test_dot_is_a_digraph_with_clusters_and_labelled_edges(env: dict[str, str]) -> None:
    proc = run_cli(["graph", EXAMPLE, "--format", "dot"], env)
    assert proc.returncode == 0
    text = proc.stdout
    assert text.count("{") == text.count("}")
    lines = [x.strip() for x in text.splitlines()]
    assert lines[0] == 'digraph "ai-inference" {' and lines[-1] == "}"
    names = {m["id"]: m["label"].split("\\n")[0] for x in lines if (m := DOT_NODE.match(x))}
    edges = {(names[m["src"]], names[m["dst"]], m["label"]) for x in lines if (m := DOT_EDGE.match(x))}
    assert edges == FLOWS
    clusters = [x for x in lines if x.startswith("subgraph cluster_")]
    assert {"subgraph cluster_ns_serving {", "subgraph cluster_outside {"} <= set(clusters)
    try:
        import pydot
    except ImportError:
        return
    (graph,) = pydot.graph_from_dot_data(text)
    assert {e.get_source() for e in graph.get_edges()} <= set(names)


def test_svg_needs_graphviz(env: dict[str, str]) -> None:
    proc = run_cli(["graph", EXAMPLE, "--format", "svg"], env)
    if shutil.which("dot", path=env.get("PATH")) is None:
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and "apt-get install graphviz" in proc.stderr
    else:
        assert proc.returncode == 0 and "<svg" in proc.stdout


def test_the_matrix_as_table_and_json(env: dict[str, str]) -> None:
    proc = run_cli(["graph", EXAMPLE, "--matrix"], env)
    assert proc.returncode == 0
    rows = [line.split() for line in proc.stdout.splitlines()]
    header = rows[0][3:]  # after "FROM \ TO"
    assert header == list(INTENT.segments)
    cells = {row[0]: dict(zip(header, row[1:], strict=True)) for row in rows[1:]}
    assert cells["gateway"]["inference"] == "tcp/80"
    assert cells["inference"]["gateway"] == "-"
    doc = json.loads(run_cli(["graph", EXAMPLE, "--matrix", "--format", "json"], env).stdout)
    assert doc["matrix"]["monitoring"] == {"feature-db": "tcp/9090-9102", "gateway": "tcp/9090-9102",
                                           "inference": "tcp/9090-9102"}
    assert doc["matrix"]["vector-db"] == {}


def test_graph_json_has_the_same_edges(env: dict[str, str]) -> None:
    doc = json.loads(run_cli(["graph", EXAMPLE, "--format", "json"], env).stdout)
    names = {n["id"]: n["name"] for n in doc["nodes"]}
    assert {(names[e["from"]], names[e["to"]], e["ports"]) for e in doc["edges"]} == FLOWS


@pytest.mark.parametrize("args, message", [
    (["--matrix", "--format", "dot"], "--matrix prints a table or JSON, not dot"),
    (["--format", "table"], "add --matrix for the table"),
])
def test_bad_combinations_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    proc = run_cli(["graph", EXAMPLE, *args], env)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.splitlines()) == 1
