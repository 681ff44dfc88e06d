"""`cloudfence query` as a user runs it: the flows that allow a connection, and per
target the records at each end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from cloudfence.intent import load_intent
from cloudfence.provider import checked_plan
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.query import End, resolve_end, target_answer
from cloudfence.space import space_for
from tests.fakeplugin import (
    AWS_EXAMPLE,
    AWS_S3,
    AZURE_PLACE,
    CLUSTER,
    CLUSTER_CIDRS,
    EXAMPLE,
    NODE_CIDRS,
    OBJECT_STORAGE_CIDRS,
    run_cli,
)

VDB_EGRESS = "ai-inference-inference-out-tcp-6333-6334-to-vector-db"
VDB_INGRESS = "ai-inference-vector-db-in-tcp-6333-6334-from-inference"


def query(env: dict[str, str], *args: object) -> tuple[int, dict[str, Any]]:
    proc = run_cli(["query", EXAMPLE, *map(str, args), "--format", "json"], env)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}


def test_an_allowed_connection_names_its_flow_and_records(env: dict[str, str]) -> None:
    code, doc = query(env, "inference", "vector-db", "6333", "-p", "all",
                      "--set", "kubernetes.defaultDenyNamespaces=true", *CLUSTER, *AZURE_PLACE)
    assert code == 0
    assert doc["allowed"] is True and doc["ports"] == "tcp/6333"
    assert [(m["specFlows"], m["descriptions"]) for m in doc["flows"]] == [(["flows[4]"], ["retrieval"])]
    targets = {t["provider"]: t for t in doc["targets"]}
    assert [(e["end"], e["direction"], e["records"]) for e in targets["aws"]["ends"]] == [
        ("inference", "egress", [VDB_EGRESS]), ("vector-db", "ingress", [VDB_INGRESS])]
    k8s = targets["kubernetes"]
    assert k8s["allowed"] is True
    assert [(e["end"], e["governed"], e["records"]) for e in k8s["ends"]] == [
        ("inference", True, ["ai-inference-inference"]), ("vector-db", False, [])]
    assert [(e["end"], e["direction"], e["records"]) for e in targets["azure"]["ends"]] == [
        ("inference", "egress", ["ai-inference-inference-nsg"]),
        ("vector-db", "ingress", ["ai-inference-vector-db-nsg"])]


def test_the_table_says_the_same(env: dict[str, str]) -> None:
    proc = run_cli(["query", EXAMPLE, "inference", "vector-db", "tcp/6333", "-p", "aws", *AWS_S3], env)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "inference -> vector-db tcp/6333: allowed"
    assert "  by flows[4] (inference -> vector-db tcp/6333): retrieval" in lines
    assert f"  inference (egress): {VDB_EGRESS}" in lines
    assert f"  vector-db (ingress): {VDB_INGRESS}" in lines


def test_no_flow_means_denied_with_exit_1(env: dict[str, str]) -> None:
    code, doc = query(env, "gateway", "vector-db", "tcp/6333", "-p", "aws", *AWS_S3)
    assert code == 1
    assert doc["allowed"] is False and doc["flows"] == []
    aws = doc["targets"][0]
    assert aws["allowed"] is False
    assert all(e["records"] == [] for e in aws["ends"])
    proc = run_cli(["query", EXAMPLE, "gateway", "vector-db"], env)
    assert proc.returncode == 1 and proc.stdout.startswith("gateway -> vector-db any port: denied")


def test_a_port_outside_the_flow_is_denied(env: dict[str, str]) -> None:
    code, doc = query(env, "inference", "vector-db", "tcp/6335")
    assert code == 1 and doc["allowed"] is False
    code, doc = query(env, "inference", "vector-db", "tcp/6334-6335")
    assert code == 1 and doc["allowedPorts"] == "tcp/6334"


def test_addresses_answer_as_the_segment_or_network_holding_them(env: dict[str, str]) -> None:
    code, doc = query(env, "10.200.1.1", "10.20.3.7", "tcp/6334", "-p", "aws", *AWS_S3)
    assert code == 0
    assert doc["from"]["in"] == ["corp-vpn"] and doc["to"]["in"] == ["vector-db"]
    assert doc["flows"][0]["specFlows"] == ["flows[9]"]
    ends = doc["targets"][0]["ends"]
    assert (ends[0]["governed"], ends[1]["records"]) == (False, [
        "ai-inference-vector-db-in-tcp-6333-6334-from-10-200-0-0-16"])
    code, doc = query(env, "10.99.0.1", "gateway", "443")
    assert code == 1 and doc["from"]["in"] == [] and doc["flows"] == []


def test_internet_is_a_name_unless_a_target_is_given(env: dict[str, str]) -> None:
    plain = run_cli(["query", EXAMPLE, "internet", "gateway", "443"], env)
    assert plain.returncode == 0 and "0.0.0.0/5" not in plain.stdout
    code, doc = query(env, "internet", "gateway", "443", "-p", "aws", *AWS_S3)
    assert code == 0
    assert doc["targets"][0]["addresses"]["internet"].startswith("0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8")
    code, doc = query(env, "8.8.8.8", "gateway", "443", "-p", "aws", *AWS_S3)
    assert doc["from"]["in"] == ["internet"]
    assert doc["targets"][0]["ends"][1]["records"] == ["ai-inference-gateway-in-tcp-443-from-internet-ipv4"]


def test_implied_flows_follow_the_target_settings(env: dict[str, str], tmp_path: Path) -> None:
    settings = tmp_path / "k8s.yaml"
    settings.write_text("dns: true\ndefaultDenyNamespaces: true\n"
                        f"clusterCidrs: [{', '.join(CLUSTER_CIDRS)}]\n"
                        f"nodeCidrs: [{', '.join(NODE_CIDRS)}]\n"
                        f"objectStorageCidrs: [{', '.join(OBJECT_STORAGE_CIDRS)}]\n")
    code, doc = query(env, "gateway", "@cluster-dns", "udp/53", "-p", "kubernetes", "--settings", settings)
    assert code == 0
    assert doc["flows"][0]["impliedBy"] == "kubernetes"
    assert doc["targets"][0]["ends"][0]["records"] == ["ai-inference-gateway"]
    off = run_cli(["query", EXAMPLE, "gateway", "@cluster-dns", "udp/53", "-p", "kubernetes",
                   "--set", "dns=false", *CLUSTER], env)
    assert off.returncode == 2 and "platform endpoint '@cluster-dns' is named by no flow" in off.stderr


@pytest.mark.parametrize("args, message", [
    (["gatway", "vector-db"], "error: FROM: unknown segment or network 'gatway' (did you mean 'gateway'?)"),
    (["gateway", "vectordb"], "error: TO: unknown segment or network 'vectordb' (did you mean 'vector-db'?)"),
    (["gateway", "10.20.3.0/24"], "error: TO: '10.20.3.0/24' is not one address: give one address"),
    (["gateway", "inference", "tcp/99999"], "error: PORT: port 99999 in 'tcp/99999' is outside 0-65535"),
])
def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    proc = run_cli(["query", EXAMPLE, *args], env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr


def test_a_dropped_record_is_no_longer_named_and_the_target_denies() -> None:
    """The records come from the plan, not the flows: remove one and the answer changes."""
    intent = load_intent(EXAMPLE)
    aws = AwsProvider()
    plan = checked_plan(aws, intent, AWS_EXAMPLE)
    space = space_for(intent)
    src, dst = resolve_end(intent, "inference", "FROM", space), resolve_end(intent, "vector-db", "TO", space)
    from cloudfence.ports import parse_port

    port = parse_port("tcp/6333")

    def ask(p: Any) -> Any:
        return target_answer("aws", p, aws.evaluate(p, intent), space, intent, src, dst, port,
                             aws.record_rules(p, intent))

    assert ask(plan).allowed == port
    cut = dataclasses.replace(plan, resources=tuple(r for r in plan.resources if r.name != VDB_INGRESS))
    after = ask(cut)
    assert not after.allowed
    assert [e.records for e in after.ends] == [[VDB_EGRESS], []]
    assert isinstance(src, End)
