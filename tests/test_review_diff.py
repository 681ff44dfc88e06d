"""`cloudfence diff` as a user runs it: connections from the intents, records per target."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cloudfence.plan import Resource
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import INGRESS_RULE, SECURITY_GROUP
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from tests.fakeplugin import (
    AWS_S3,
    CLUSTER,
    CLUSTER_CIDRS,
    EXAMPLE,
    NODE_CIDRS,
    OBJECT_STORAGE_CIDRS,
    run_cli,
)

GOOD = EXAMPLE.read_text()
RETRIEVAL = """    to: vector-db
    ports: [qdrant]
    description: retrieval"""
# Scoped: aws has no such keys. Each target's settings for the example's platform endpoints
# (`@load-balancer`, `@object-storage`) too, so that no target of `-p all` refuses to plan.
K8S_SETTINGS = ("kubernetes.dns: true\nkubernetes.defaultDenyNamespaces: true\n"
                f"kubernetes.clusterCidrs: [{', '.join(CLUSTER_CIDRS)}]\n"
                f"kubernetes.nodeCidrs: [{', '.join(NODE_CIDRS)}]\n"
                f"kubernetes.objectStorageCidrs: [{', '.join(OBJECT_STORAGE_CIDRS)}]\n"
                "gcp.region: us-central1\naws.region: us-east-1\n"
                # azure cannot plan without them, which would hide its part of `-p all`
                "azure.resourceGroupName: rg-ai-inference\nazure.location: westeurope\n")


def edited(tmp_path: Path, old: str, new: str, name: str = "new.yaml") -> Path:
    assert old in GOOD
    path = tmp_path / name
    path.write_text(GOOD.replace(old, new))
    return path


@pytest.fixture
def widened(tmp_path: Path) -> Path:
    """The example with one flow widened: inference -> vector-db also on tcp/6335."""
    return edited(tmp_path, RETRIEVAL, RETRIEVAL.replace("[qdrant]", "[qdrant, tcp/6335]"))


def test_a_widened_flow_opens_exactly_that_connection(env: dict[str, str], widened: Path) -> None:
    proc = run_cli(["diff", EXAMPLE, widened, "--format", "json"], env)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["changed"] is True
    assert doc["opened"] == [{"change": "opened", "from": "inference", "to": "vector-db",
                              "ports": ["tcp/6335"]}]
    assert doc["closed"] == [] and doc["names"] == [] and doc["targets"] == []


def test_the_table_names_the_pair_and_the_reverse_closes_it(env: dict[str, str], widened: Path) -> None:
    proc = run_cli(["diff", EXAMPLE, widened], env)
    assert proc.returncode == 1
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert ["+", "inference", "vector-db", "tcp/6335"] in rows
    assert "connections: 1 opened, 0 closed" in proc.stdout
    back = json.loads(run_cli(["diff", widened, EXAMPLE, "--format", "json"], env).stdout)
    assert back["opened"] == [] and [c["ports"] for c in back["closed"]] == [["tcp/6335"]]


def test_reordered_flows_are_no_change(env: dict[str, str], tmp_path: Path) -> None:
    """Not a text diff: the same flows in another order, a service inlined, change nothing."""
    first = "  - from: internet\n    to: gateway\n    ports: [https]\n    description: public API\n"
    assert first in GOOD
    text = GOOD.replace(first, "").replace("    ports: [http]\n", "    ports: [tcp/80]\n") + first
    moved = tmp_path / "moved.yaml"
    moved.write_text(text)
    proc = run_cli(["diff", EXAMPLE, moved, "-p", "all", "--settings", _k8s(tmp_path), "--format", "json"],
                   env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert doc["changed"] is False and doc["opened"] == [] and doc["closed"] == []
    assert {t["provider"] for t in doc["targets"]} == {"aws", "azure", "gcp", "kubernetes"}
    assert all(t["resources"] == [] for t in doc["targets"])
    table = run_cli(["diff", EXAMPLE, moved], env)
    assert table.returncode == 0 and "no change" in table.stdout


def _k8s(tmp_path: Path) -> Path:
    path = tmp_path / "k8s-settings.yaml"
    path.write_text(K8S_SETTINGS)
    return path


def test_per_target_resources_for_the_widened_flow(env: dict[str, str], widened: Path,
                                                   tmp_path: Path) -> None:
    proc = run_cli(["diff", EXAMPLE, widened, "-p", "all", "--settings", _k8s(tmp_path),
                    "--format", "json"], env)
    assert proc.returncode == 1, proc.stderr
    targets = {t["provider"]: t for t in json.loads(proc.stdout)["targets"]}
    aws = {(r["action"], r["name"]) for r in targets["aws"]["resources"]}
    assert aws == {
        ("delete", "ai-inference-inference-out-tcp-6333-6334-to-vector-db"),
        ("create", "ai-inference-inference-out-tcp-6333-6335-to-vector-db"),
        ("delete", "ai-inference-vector-db-in-tcp-6333-6334-from-inference"),
        ("create", "ai-inference-vector-db-in-tcp-6333-6335-from-inference"),
    }
    k8s = targets["kubernetes"]["resources"]
    assert [(r["action"], r["name"], r["inputs"], r["forcesReplacement"]) for r in k8s] == [
        ("update", "ai-inference-inference", ["spec.egress"], [])]
    azure = targets["azure"]["resources"]  # inline rules: the two NSGs update, nothing is replaced
    assert [(r["action"], r["name"], r["inputs"], r["forcesReplacement"]) for r in azure] == [
        ("update", f"ai-inference-{seg}-nsg", ["securityRules"], []) for seg in ("inference", "vector-db")]


def test_a_namespace_move_is_called_out_as_a_replacement(env: dict[str, str], tmp_path: Path) -> None:
    moved = edited(tmp_path, "{namespace: serving, labels: {app: ai-inference}}",
                   "{namespace: gpu, labels: {app: ai-inference}}")
    proc = run_cli(["diff", EXAMPLE, moved, "-p", "kubernetes", "--set", "defaultDenyNamespaces=true",
                    "--format", "json", *CLUSTER], env)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["opened"] == [] and doc["closed"] == []
    assert doc["names"] == [{"kind": "segment", "name": "inference", "change": "changed",
                             "detail": "kubernetes serving{app=ai-inference} -> gpu{app=ai-inference}"}]
    by_name = {r["name"]: r for r in doc["targets"][0]["resources"]}
    assert by_name["ai-inference-inference"]["action"] == "replace"
    assert by_name["ai-inference-inference"]["forcesReplacement"] == ["metadata.namespace"]
    assert by_name["ai-inference-default-deny-gpu"]["action"] == "create"
    assert by_name["ai-inference-gateway"]["action"] == "update"  # its peer moved namespace
    table = run_cli(["diff", EXAMPLE, moved, "-p", "kubernetes", *CLUSTER], env)
    line = next(x for x in table.stdout.splitlines() if " ai-inference-inference " in x)
    assert line.split()[0] == "replace" and "REPLACE: metadata.namespace" in line


def test_markdown_for_a_pull_request(env: dict[str, str], widened: Path) -> None:
    proc = run_cli(["diff", EXAMPLE, widened, "-p", "aws", *AWS_S3, "--format", "markdown"], env)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("### cloudfence diff:")
    assert "| **opened** | `inference` | `vector-db` | `tcp/6335` |  |" in lines
    row = "| create | SecurityGroupEgressRule | `ai-inference-inference-out-tcp-6333-6335-to-vector-db` |  |"
    assert row in lines


def test_a_widened_network_opens_its_flows_to_the_new_addresses(env: dict[str, str], tmp_path: Path) -> None:
    wider = edited(tmp_path, "corp-vpn: [10.200.0.0/16]", "corp-vpn: [10.200.0.0/15]")
    doc = json.loads(run_cli(["diff", EXAMPLE, wider, "--format", "json"], env).stdout)
    assert doc["opened"] == [
        {"change": "opened", "from": "corp-vpn", "to": "monitoring", "ports": ["tcp/443"],
         "addresses": "corp-vpn +10.201.0.0/16"},
        {"change": "opened", "from": "corp-vpn", "to": "vector-db", "ports": ["tcp/6333-6334"],
         "addresses": "corp-vpn +10.201.0.0/16"}]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_compares_the_working_spec_with_a_revision(env: dict[str, str], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    spec = repo / "segments.yaml"
    spec.write_text(GOOD)

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                       check=True, capture_output=True)

    git("init", "-q")
    git("add", "segments.yaml")
    git("commit", "-qm", "spec")
    spec.write_text(GOOD.replace(RETRIEVAL, RETRIEVAL.replace("[qdrant]", "[qdrant, tcp/6335]")))
    proc = run_cli(["diff", "--git", "HEAD", spec, "--format", "json"], env)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["old"] == "HEAD:segments.yaml"
    opened = [(c["from"], c["to"], c["ports"]) for c in doc["opened"]]
    assert opened == [("inference", "vector-db", ["tcp/6335"])]
    bad = run_cli(["diff", "--git", "no-such-rev", spec], env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: --git no-such-rev: cannot read segments.yaml at that revision")


@pytest.mark.parametrize("args, message", [
    (["diff", EXAMPLE], "diff takes OLD and NEW spec files (got 1)"),
    (["diff", "--git", "HEAD", EXAMPLE, EXAMPLE], "--git REV compares one spec file with its past"),
    (["diff", EXAMPLE, EXAMPLE, "-p", "nosuch"], "unknown provider 'nosuch'"),
])
def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    proc = run_cli(args, env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------- replacement knowledge


def test_aws_knows_a_group_description_forces_a_replace() -> None:
    old = Resource(SECURITY_GROUP, "g", {"description": "cloudfence segment", "vpcId": "vpc-1",
                                         "tags": {"a": "1"}})
    retagged = Resource(SECURITY_GROUP, "g", {**old.inputs, "tags": {"a": "2"}})
    described = Resource(SECURITY_GROUP, "g", {**old.inputs, "description": "other"})
    assert AwsProvider().replaced_by(old, retagged) == []
    assert AwsProvider().replaced_by(old, described) == ["description"]
    rule = Resource(INGRESS_RULE, "r", {"securityGroupId": "${a.id}", "fromPort": 80, "toPort": 80})
    moved = Resource(INGRESS_RULE, "r", {**rule.inputs, "securityGroupId": "${b.id}", "toPort": 81})
    assert AwsProvider().replaced_by(rule, moved) == ["securityGroupId"]


def test_kubernetes_replaces_on_name_or_namespace_only() -> None:
    old = Resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "p",
                   {"metadata": {"name": "p", "namespace": "a"}, "spec": {"ingress": []}})
    spec_only = Resource(old.type, "p", {**old.inputs, "spec": {"ingress": [{}]}})
    moved = Resource(old.type, "p", {**old.inputs, "metadata": {"name": "p", "namespace": "b"}})
    assert KubernetesProvider().replaced_by(old, spec_only) == []
    assert KubernetesProvider().replaced_by(old, moved) == ["metadata.namespace"]
