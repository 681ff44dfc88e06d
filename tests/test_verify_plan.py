"""verify --plan: a plan JSON judged as a black box, as a reviewer would use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakeplugin import AWS_S3

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "stacks" / "ai-inference" / "segments.yaml"
STACK = ROOT / "stacks" / "ai-inference" / "Pulumi.kubernetes.yaml"  # its settings: clusterCidrs
CLI = [sys.executable, "-m", "cloudfence.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def k8s_plan() -> dict:
    out = run("plan", str(SPEC), "-p", "kubernetes", "--stack", str(STACK), "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def write(tmp_path: Path, doc: dict) -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_the_plan_as_written_verifies(tmp_path: Path, k8s_plan: dict) -> None:
    assert {"format", "settings", "exports", "implied"} <= set(k8s_plan)
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, k8s_plan))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kubernetes: equivalent" in out.stdout and "assumes:" in out.stdout


def test_a_widened_ipblock_in_the_file_is_caught(tmp_path: Path, k8s_plan: dict) -> None:
    doc = json.loads(json.dumps(k8s_plan))
    for r in doc["resources"]:
        for rule in r["inputs"]["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if peer.get("ipBlock", {}).get("cidr") == "10.200.0.0/16":
                    peer["ipBlock"]["cidr"] = "10.0.0.0/8"
    assert doc != k8s_plan
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc), "--format", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    [target] = json.loads(out.stdout)["targets"]
    assert not target["equivalent"]
    assert any(c["kind"] == "extra" and c["destination"].startswith("monitoring")
               for c in target["counterexamples"])


def test_swapped_exports_are_caught(tmp_path: Path, k8s_plan: dict) -> None:
    doc = json.loads(json.dumps(k8s_plan))
    ex = doc["exports"]
    ex["gateway"], ex["inference"] = ex["inference"], ex["gateway"]
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc))
    if "identit" not in (ROOT / "providers" / "kubernetes" / "evaluate.py").read_text():
        pytest.skip("the kubernetes evaluator does not report identities yet")
    assert out.returncode == 1 and "export" in out.stdout


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(spec="other"), "spec"),
    (lambda d: d.update(provider="aws"), "-p aws"),
    (lambda d: d.update(resources={}), "resources"),
    (lambda d: d["implied"].append({"from": "nobody", "to": "@cluster-dns", "ports": ["udp/53"]}),
     "implied"),
])
def test_a_bad_plan_file_is_one_line_and_exit_2(tmp_path: Path, k8s_plan: dict, mutate, message) -> None:
    doc = json.loads(json.dumps(k8s_plan))
    mutate(doc)
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and message in out.stderr and "Traceback" not in out.stderr


def test_a_missing_plan_file_says_how_to_write_one(tmp_path: Path) -> None:
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", str(tmp_path / "nope.json"))
    assert out.returncode == 2 and "cloudfence plan" in out.stderr


# ------------------------------------------- what a plan file cannot talk verify into


def test_a_plan_cannot_add_implied_flows_to_its_own_intent(tmp_path: Path, k8s_plan: dict) -> None:
    doc = json.loads(json.dumps(k8s_plan))
    doc["implied"].append({"from": "gateway", "to": "feature-db", "ports": ["tcp/5432"]})
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc), "--format", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    (target,) = json.loads(out.stdout)["targets"]
    assert ("implied", "gateway", "feature-db") in {
        (c["kind"], c["source"], c["destination"]) for c in target["counterexamples"]}
    assert "gateway -> feature-db tcp/5432" not in target["implied"]


def test_the_plans_settings_go_through_check(tmp_path: Path, k8s_plan: dict) -> None:
    # clusterCidrs over vector-db's cidr (a segment outside the cluster): refused as --set would be
    doc = json.loads(json.dumps(k8s_plan))
    doc["settings"]["clusterCidrs"] = [*doc["settings"]["clusterCidrs"], "10.20.3.0/24"]
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "segments.vector-db.cidr: segment 'vector-db' is outside the cluster" in out.stderr


def test_an_input_aws_verify_does_not_read_is_refused(tmp_path: Path) -> None:
    # IPv6 on the VPC would give every member a public prefix the rules' ::/0 then reaches
    out = run("plan", str(SPEC), "-p", "aws", *AWS_S3, "--set", "vpcCidr=10.20.0.0/16", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    vpc = next(r for r in doc["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    vpc["inputs"]["ipv6CidrBlock"] = "2600:1f18:100:1200::/56"
    doc["resources"].append({"type": "aws:ec2/instance:Instance", "name": "side-door", "inputs": {}})
    out = run("verify", str(SPEC), "-p", "aws", "--plan", write(tmp_path, doc))
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"resources.{vpc['name']}.inputs.ipv6CidrBlock: an input verify does not read" in out.stderr
    assert "resources.side-door: record type aws:ec2/instance:Instance is not one aws writes" in out.stderr


def test_an_unreadable_record_is_bad_input_not_a_bug(tmp_path: Path, k8s_plan: dict) -> None:
    doc = json.loads(json.dumps(k8s_plan))
    policy = next(r for r in doc["resources"] if r["inputs"]["spec"].get("ingress"))
    rule = policy["inputs"]["spec"]["ingress"][0]
    rule.setdefault("from", [{}])[0] = {"ipBlock": {"cidr": "10.1.2.3/16"}}  # host bits set
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "a record cannot be read" in out.stderr and "Traceback" not in out.stderr


def test_a_peer_selector_narrower_than_its_segment_is_not_a_proof(tmp_path: Path, k8s_plan: dict) -> None:
    # gateway -> inference: only inference pods that also carry tier=x would be reached
    doc = json.loads(json.dumps(k8s_plan))
    policy = next(r for r in doc["resources"] if r["name"] == "ai-inference-inference")
    narrowed = 0
    for rule in policy["inputs"]["spec"].get("ingress", []):
        for peer in rule.get("from", []):
            sel = peer.get("podSelector") or {}
            if sel.get("matchLabels") == {"role": "frontend"}:
                sel["matchExpressions"] = [{"key": "tier", "operator": "In", "values": ["x"]}]
                narrowed += 1
    assert narrowed
    out = run("verify", str(SPEC), "-p", "kubernetes", "--plan", write(tmp_path, doc), "--format", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    (target,) = json.loads(out.stdout)["targets"]
    assert {(c["kind"], c["source"].split(" ")[0], c["destination"].split(" ")[0])
            for c in target["counterexamples"]} & {("missing", "gateway", "inference"),
                                                   ("unsure", "gateway", "inference")}
