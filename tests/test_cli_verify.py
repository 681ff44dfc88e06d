"""`cloudfence verify`: verdicts, counterexamples and exit status, as a CI gate reads them."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.fakeplugin import (
    ALL_TARGETS,
    AWS_S3,
    AZURE_PLACE,
    CLI,
    CLUSTER,
    EXAMPLE,
    GCP_REGION,
    K8S_STACK,
    ROOT,
    builtin_available,
    run_cli,
    site_env,
)
from tests.fakeplugin import invoke as cli

SCTP_SPEC = """\
version: 1
name: sig
segments:
  edge: {kubernetes: {namespace: telco, labels: {app: edge}}, cidr: 10.1.0.0/24}
  core: {kubernetes: {namespace: telco, labels: {app: core}}, cidr: 10.2.0.0/24}
flows:
  - {from: edge, to: core, ports: [sctp/38412]}
"""


def needs(*names: str) -> pytest.MarkDecorator:
    missing = [n for n in names if n not in builtin_available()]
    return pytest.mark.skipif(bool(missing), reason=f"providers not in this tree: {missing}")


@pytest.fixture(scope="module")
def fake_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return site_env(tmp_path_factory.mktemp("fakesite"), fake=True)


def rows(text: str) -> list[list[str]]:
    return [line.split("  ") for line in text.splitlines()]


# ---------------------------------------------------------- fake providers


def test_equivalent_target_exits_0(fakes: dict) -> None:
    code, out, _ = cli("verify", EXAMPLE, "--provider", "fakecloud")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("fakecloud: equivalent (")
    assert first.endswith(" connection classes, 12 flows judged)")
    assert "  implied by fakecloud: gateway -> @fake-dns udp/53" in out.splitlines()
    assert "not governed" not in out


def test_leaky_target_exits_1_with_a_counterexample_packet(fakes: dict) -> None:
    code, out, _ = cli("verify", EXAMPLE, "--provider", "fakecloud-leaky")
    assert code == 1
    assert out.startswith("fakecloud-leaky: NOT equivalent (")
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in out.splitlines()]
    header = ["KIND", "EXPLANATION", "SOURCE", "DESTINATION", "PROTOCOL", "PORT", "PORTS"]
    assert header in cells
    leak = [c for c in cells if len(c) == 7 and c[2].startswith("internet (")]
    assert leak == [["extra", "allowed but not intended", leak[0][2], "feature-db (10.20.4.1)",
                     "tcp", "22", "22"]]


def test_leaky_target_json(fakes: dict) -> None:
    code, out, _ = cli("verify", EXAMPLE, "-p", "fakecloud-leaky", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["spec"] == "ai-inference"
    (target,) = doc["targets"]
    assert (target["provider"], target["equivalent"], target["problems"]) == ("fakecloud-leaky", False, [])
    assert target["totalDifferences"] == len(target["counterexamples"]) > 0
    from_internet = next(c for c in target["counterexamples"] if c["source"].startswith("internet"))
    assert from_internet == {"kind": "extra", "explanation": "allowed but not intended",
                             "source": from_internet["source"], "destination": "feature-db (10.20.4.1)",
                             "protocol": "tcp", "port": 22, "ports": "22"}
    assert all(c["kind"] == "extra" and c["port"] == 22 for c in target["counterexamples"])


def test_missing_rule_is_reported_as_intended_but_not_allowed(fakes: dict, monkeypatch) -> None:
    fake = fakes["fakecloud"]
    real_compile = type(fake).compile

    def drop_one(self, intent, settings):
        plan = real_compile(self, intent, settings)
        kept = tuple(r for r in plan.resources if r.name != "ai-inference-inference-to-vector-db-ingress")
        return type(plan)(plan.spec, plan.provider, kept, plan.implied, plan.exports)

    monkeypatch.setattr(type(fake), "compile", drop_one)
    code, out, _ = cli("verify", EXAMPLE, "-p", "fakecloud", "--format", "json")
    assert code == 1
    (target,) = json.loads(out)["targets"]
    assert [(c["kind"], c["source"], c["destination"], c["protocol"], c["ports"])
            for c in target["counterexamples"]] == [
        ("missing", "inference (10.20.2.1)", "vector-db (10.20.3.1)", "tcp", "6333-6334")]


def test_all_reports_every_target_and_exits_1_when_one_differs(fakes: dict) -> None:
    code, out, _ = cli("verify", EXAMPLE, "-p", "all", "--format", "json")
    assert code == 1
    verdicts = {t["provider"]: t["equivalent"] for t in json.loads(out)["targets"]}
    assert verdicts == {"fakecloud": True, "fakecloud-leaky": False}


def test_target_that_cannot_express_the_spec(tmp_path: Path, fakes: dict) -> None:
    spec = tmp_path / "sig.yaml"
    spec.write_text(SCTP_SPEC)
    code, out, err = cli("verify", spec, "-p", "all")
    assert code == 2
    assert err == ""
    assert any(line.startswith(f"fakecloud: cannot express: {spec}:7: flows[0] (edge -> core): fakecloud "
                               "cannot express sctp") for line in out.splitlines())
    code, out, _ = cli("verify", spec, "-p", "all", "--format", "json")
    assert code == 2
    target = json.loads(out)["targets"][0]
    assert target["equivalent"] is None
    assert "fakecloud cannot express sctp" in target["problems"][0]


def test_scoped_settings_apply_to_one_provider_only(fakes: dict) -> None:
    _, out, _ = cli("verify", EXAMPLE, "-p", "all", "--format", "json", "--set", "fakecloud.dns=false")
    targets = {t["provider"]: t for t in json.loads(out)["targets"]}
    assert targets["fakecloud"]["implied"] == []
    assert targets["fakecloud-leaky"]["implied"]  # its dns stayed on


# --------------------------------------------------- the built-in providers


@needs("kubernetes")
def test_example_is_equivalent_on_kubernetes(env: dict[str, str]) -> None:
    proc = run_cli(["verify", "--stack", K8S_STACK], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("kubernetes: equivalent (") and "flows judged)" in lines[0]
    assert any(line.startswith("  implied by kubernetes: ") and "@cluster-dns" in line for line in lines)
    # vector-db and corp-vpn are both outside the cluster: not the cluster's to enforce
    assert "  not governed by kubernetes: corp-vpn -> vector-db tcp/6333-6334" in lines


@needs("aws")
def test_example_is_equivalent_on_aws(env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "--provider", "aws", *AWS_S3, "--format", "json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (target,) = json.loads(proc.stdout)["targets"]
    assert (target["provider"], target["equivalent"], target["counterexamples"]) == ("aws", True, [])
    assert target["notGoverned"] == []  # a cloud governs every segment


@needs("aws", "kubernetes")
def test_all_builtin_targets_are_equivalent(env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "--provider", "all", *ALL_TARGETS], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = [line for line in proc.stdout.splitlines() if line and not line.startswith(" ")]
    for name in builtin_available():
        assert any(v.startswith(f"{name}: equivalent (") for v in verdicts), verdicts
    assert "verifying" not in proc.stderr  # no progress lines when stderr is not a terminal


@needs("aws", "kubernetes")
def test_stack_file_settings_reach_their_provider_only(env: dict[str, str]) -> None:
    stack = EXAMPLE.parent / "Pulumi.aws.yaml"
    if not stack.exists():
        pytest.skip("no aws stack file")
    plan = run_cli(["plan", "-p", "aws", "--stack", stack, "--format", "json"], env)
    assert plan.returncode == 0, plan.stderr
    types = {r["type"] for r in json.loads(plan.stdout)["resources"]}
    assert "aws:ec2/networkAcl:NetworkAcl" in types  # nacls: true from the stack file
    # kubernetes, verified alongside, is not handed the aws settings
    proc = run_cli(["verify", EXAMPLE, "-p", "all", "--stack", stack, "--format", "json", *GCP_REGION,
                    *AZURE_PLACE], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {t["provider"]: t["equivalent"] for t in json.loads(proc.stdout)["targets"]} == {
        name: True for name in builtin_available()}


@needs("kubernetes")
def test_all_with_a_third_party_plugin(fake_env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "-p", "all", "--format", "json", *CLUSTER], fake_env)
    assert proc.returncode == 1, proc.stderr  # fakecloud-leaky differs
    verdicts = {t["provider"]: t["equivalent"] for t in json.loads(proc.stdout)["targets"]}
    assert verdicts["fakecloud"] is True and verdicts["fakecloud-leaky"] is False
    assert verdicts["kubernetes"] is True


def test_progress_on_a_terminal(fake_env: dict[str, str]) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([*CLI, "verify", str(EXAMPLE), "-p", "all", *CLUSTER], env=fake_env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
                              timeout=60, text=True)
        os.close(follower)
        follower = -1
        progress = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            progress += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode in (1, 2), proc.stdout  # the leaky plugin differs
    assert b"verifying fakecloud ..." in progress
    assert b"verifying fakecloud-leaky ..." in progress
    assert "verifying" not in proc.stdout
