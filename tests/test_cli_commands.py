"""validate, plan, providers and export as a user would check them.

Fakecloud tests run in-process through click's runner (milliseconds); the
built-in providers are exercised in a subprocess, through their entry points.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cloudfence.intent import load_intent
from cloudfence.provider import checked_plan
from cloudfence.settings import describe
from tests.fakeplugin import AWS_S3, CLUSTER, EXAMPLE, S3_PREFIX_LIST, builtin_available, run_cli
from tests.fakeplugin import invoke as cli

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(name not in builtin_available(), reason=f"provider {name} not in this tree")


# ---------------------------------------------------------------- validate


def test_validate_summarises_the_example() -> None:
    code, out, err = cli("validate", EXAMPLE)
    assert (code, err) == (0, "")
    assert "6 segments, 1 network (+ internet), 12 flows (from 10 spec entries)" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["monitoring", "gateway", "tcp/9090-9102", "flows[7]"] in rows  # one spec flow, three targets
    assert ["monitoring", "feature-db", "tcp/9090-9102", "flows[7]"] in rows
    assert ["@load-balancer", "gateway", "tcp/443", "flows[1]"] in rows  # platform endpoints are flows too
    assert ["inference", "@object-storage", "tcp/443", "flows[6]"] in rows
    assert ["gateway", "10.20.1.0/24", "serving{role=frontend}"] in rows
    assert ["vector-db", "10.20.3.0/24", "-"] in rows


def test_validate_json_lists_merged_flows(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\nname: s\nsegments: {a: {}, b: {}}\nflows:\n"
                    "  - {from: a, to: b, ports: [tcp/80]}\n  - {from: a, to: b, ports: [tcp/81, udp/53]}\n")
    code, out, _ = cli("validate", spec, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["flows"] == [{"from": "a", "to": "b", "ports": "tcp/80-81 udp/53", "specFlows": [0, 1]}]
    assert [s["name"] for s in doc["segments"]] == ["a", "b"]


# -------------------------------------------------------------------- plan


def test_plan_json_is_the_plan_record_shape(fakes: dict) -> None:
    code, out, _ = cli("plan", EXAMPLE, "--provider", "fakecloud", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["format", "spec", "provider", "resources", "settings", "exports", "implied"]
    assert doc["settings"] == {"dns": True, "listPrefix": ""}
    assert (doc["spec"], doc["provider"]) == ("ai-inference", "fakecloud")
    plan = checked_plan(fakes["fakecloud"], load_intent(EXAMPLE), {})
    assert doc == plan.to_json()
    seen: set[str] = set()
    for r in doc["resources"]:
        assert list(r) == ["type", "name", "inputs", "refs"]
        # every reference names an earlier record, spelled ${name.id} in the inputs
        assert set(r["refs"].values()) <= seen, r
        for path, target in r["refs"].items():
            value = r["inputs"]
            for part in path.split("."):
                value = value[part]
            assert value == "${" + target + ".id}"
        seen.add(r["name"])
    assert any(r["refs"] for r in doc["resources"])


def test_plan_is_byte_identical_between_runs(fakes: dict) -> None:
    first = cli("plan", EXAMPLE, "-p", "fakecloud", "--format", "json")[1]
    assert cli("plan", EXAMPLE, "-p", "fakecloud", "--format", "json")[1] == first


def test_plan_table_shows_records_implied_flows_and_exports(fakes: dict) -> None:
    code, out, _ = cli("plan", EXAMPLE, "-p", "fakecloud")
    assert code == 0
    assert out.startswith("ai-inference on fakecloud: 31 resources planned")
    row = next(line for line in out.splitlines() if "ai-inference-gateway-to-inference-ingress" in line)
    assert row.split()[0] == "Allow"
    assert "listId->ai-inference-inference" in row
    assert "list->ai-inference-gateway" in row
    # the spec's platform endpoints become service peers of the segment's allow list
    row = next(line for line in out.splitlines() if "ai-inference-load-balancer-to-gateway-ingress" in line)
    assert "listId->ai-inference-gateway" in row and "service=@load-balancer" in row
    row = next(line for line in out.splitlines() if "ai-inference-inference-to-object-storage-egress" in line)
    assert "listId->ai-inference-inference" in row and "service=@object-storage" in row
    implied = out.split("implied flows (added by fakecloud on purpose):")[1]
    assert "gateway -> @fake-dns udp/53" in implied
    exports = out.split("exports (what a workload attaches to join a segment):")[1]
    cells = [r.split() for r in exports.splitlines()]
    assert ["vector-db", "allowListId=${ai-inference-vector-db.id}"] in cells


def test_set_changes_the_plan(fakes: dict) -> None:
    with_dns = json.loads(cli("plan", EXAMPLE, "-p", "fakecloud", "--format", "json")[1])
    code, out, _ = cli("plan", EXAMPLE, "-p", "fakecloud", "--format", "json", "--set", "dns=false",
                       "--set", "listPrefix=prod-")
    assert code == 0
    without = json.loads(out)
    assert len(with_dns["resources"]) - len(without["resources"]) == 6  # one DNS rule per segment
    lists = [r for r in without["resources"] if r["type"] == "fakecloud:index:AllowList"]
    assert {r["inputs"]["displayName"] for r in lists} == {f"prod-{s}" for s in load_intent(EXAMPLE).segments}


@needs("kubernetes")
def test_plan_kubernetes_json_and_table(env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "--provider", "kubernetes", "--format", "json", *CLUSTER], env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["spec"], doc["provider"]) == ("ai-inference", "kubernetes")
    policies = [r for r in doc["resources"] if r["type"] == NETWORK_POLICY]
    namespaces = {r["inputs"]["metadata"]["namespace"] for r in policies}
    assert {"serving", "data", "monitoring"} <= namespaces
    table = run_cli(["plan", EXAMPLE, "--provider", "kubernetes", *CLUSTER], env)
    assert table.returncode == 0
    assert "NetworkPolicy" in table.stdout
    assert "@cluster-dns" in table.stdout.split("implied flows")[1]
    assert "exports" in table.stdout


@needs("kubernetes")
def test_plan_via_pulumi_registers_exactly_the_plan(env: dict[str, str]) -> None:
    offline = run_cli(["plan", EXAMPLE, "-p", "kubernetes", "--format", "json", *CLUSTER], env)
    registered = run_cli(["plan", EXAMPLE, "-p", "kubernetes", "--format", "json", "--via-pulumi", *CLUSTER],
                         env)
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout) == json.loads(offline.stdout)
    table = run_cli(["plan", EXAMPLE, "-p", "kubernetes", "--via-pulumi", *CLUSTER], env)
    assert "registered under the Pulumi mock runtime" in table.stdout
    assert "registered resources equal the offline plan" in table.stdout


@needs("aws")
def test_plan_aws_json_uses_references(env: dict[str, str]) -> None:
    # in an existing VPC, @object-storage is the region's S3 prefix list
    proc = run_cli(["plan", EXAMPLE, "-p", "aws", "--format", "json", "--set", "vpcId=vpc-0abc1234def567890",
                    "--set", f"objectStoragePrefixList={S3_PREFIX_LIST}"], env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    groups = {r["name"]: r for r in doc["resources"] if r["type"] == "aws:ec2/securityGroup:SecurityGroup"}
    # one group per segment, plus the one a load balancer attaches to be @load-balancer
    assert set(groups) == {f"ai-inference-{s}" for s in load_intent(EXAMPLE).segments} | {
        "ai-inference-load-balancer"}
    assert all(g["inputs"].get("vpcId") == "vpc-0abc1234def567890" for g in groups.values())
    assert doc["exports"]["@load-balancer"] == {"securityGroupId": "${ai-inference-load-balancer.id}"}
    rules = [r for r in doc["resources"] if r["type"].startswith("aws:vpc/securityGroup")]
    assert rules and all(r["refs"] for r in rules)
    to_s3 = [r for r in rules if r["inputs"].get("prefixListId") == S3_PREFIX_LIST]
    assert [(r["refs"]["securityGroupId"], r["inputs"]["fromPort"]) for r in to_s3] == [
        ("ai-inference-inference", 443)]
    # that mode creates no network, so no S3 gateway endpoint either
    assert not any(r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint" for r in doc["resources"])


@needs("aws")
def test_plan_aws_network_mode_reaches_object_storage_through_an_s3_endpoint(env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "-p", "aws", *AWS_S3, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    records = {r["name"]: r for r in json.loads(proc.stdout)["resources"]}
    endpoint = records["ai-inference-s3"]
    assert endpoint["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
    assert endpoint["inputs"]["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint["inputs"]["vpcEndpointType"] == "Gateway"
    assert endpoint["refs"]["vpcId"] == "ai-inference"
    # inference's only way to @object-storage is that endpoint's prefix list
    rule = records["ai-inference-inference-out-tcp-443-to-object-storage-ipv4"]
    assert rule["inputs"]["prefixListId"] == "${ai-inference-s3.prefixListId}"
    assert rule["refs"] == {"securityGroupId": "ai-inference-inference", "prefixListId": "ai-inference-s3"}


# --------------------------------------------------------------- providers


def test_providers_json_lists_capabilities(fakes: dict) -> None:
    code, out, _ = cli("providers", "--format", "json")
    assert code == 0
    listed = {p["name"]: p for p in json.loads(out)["providers"]}
    assert set(listed) == {"fakecloud", "fakecloud-leaky"}
    fake = fakes["fakecloud"]
    assert listed["fakecloud"] == {"name": "fakecloud", "description": fake.description,
                                   "capabilities": fake.capabilities.to_json(),
                                   "settings": describe(fake.settings_model)}
    assert [(s["key"], s["type"], s["default"]) for s in listed["fakecloud"]["settings"]] == [
        ("dns", "bool", True), ("listPrefix", "str", "")]


def test_providers_table(fakes: dict) -> None:
    code, out, _ = cli("providers")
    assert code == 0
    assert "fakecloud: imaginary cloud with one allow list per segment" in out
    protocols = next(line.split(None, 1) for line in out.splitlines() if "protocols" in line)
    assert protocols == ["protocols", "tcp, udp, icmp, icmpv6, other"]
    settings = [line.split()[:3] for line in out.splitlines() if line.startswith("    dns ")]
    assert settings[0] == ["dns", "bool", "default"], out


@needs("kubernetes")
def test_providers_lists_the_builtin_ones(env: dict[str, str]) -> None:
    proc = run_cli(["providers", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    names = [p["name"] for p in json.loads(proc.stdout)["providers"]]
    assert set(builtin_available()) <= set(names)


# ------------------------------------------------------------------ export


@needs("kubernetes")
def test_export_writes_network_policy_manifests(tmp_path: Path, env: dict[str, str]) -> None:
    import kubernetes_validate

    out = tmp_path / "manifests" / "nested"
    proc = run_cli(["export", EXAMPLE, "-p", "kubernetes", "-o", out, *CLUSTER], env)
    assert proc.returncode == 0, proc.stderr
    written = sorted(out.iterdir())
    assert [str(p) for p in written] == proc.stdout.split()
    plan = json.loads(run_cli(["plan", EXAMPLE, "-p", "kubernetes", "--format", "json", *CLUSTER],
                              env).stdout)
    policies = [r for r in plan["resources"] if r["type"] == NETWORK_POLICY]
    docs = [d for p in written if p.name != "kustomization.yaml" for d in yaml.safe_load_all(p.read_text())
            if d]
    assert len(docs) == len(policies)
    for doc in docs:
        assert (doc["apiVersion"], doc["kind"]) == ("networking.k8s.io/v1", "NetworkPolicy")
        assert doc["metadata"]["namespace"]
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    by_name = {d["metadata"]["name"]: d for d in docs}
    for r in policies:
        assert by_name[r["inputs"]["metadata"]["name"]]["spec"] == r["inputs"]["spec"]


def test_export_needs_a_provider_with_manifests(tmp_path: Path, fakes: dict) -> None:
    code, _, err = cli("export", EXAMPLE, "-p", "fakecloud", "-o", tmp_path / "out")
    assert code == 2
    assert err.startswith("error: provider fakecloud cannot export manifests")
    assert not (tmp_path / "out").exists()
