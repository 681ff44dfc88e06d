"""`cloudfence verify` across targets: the one table, the portability section, JSON,
Markdown and exit status, as a user reads them after `verify --provider all`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fakeplugin import (
    AWS_S3,
    AZURE_PLACE,
    EXAMPLE,
    GCP_REGION,
    K8S_STACK,
    builtin_available,
    run_cli,
)
from tests.fakeplugin import invoke as cli

STACKS = sorted(EXAMPLE.parent.glob("Pulumi.*.yaml"))
STACK_ARGS = [a for f in STACKS for a in ("--stack", f)]
HEADER = ["TARGET", "RESOURCES", "RULES", "VERDICT", "COUNTEREXAMPLES", "ASSUMPTIONS"]
AZURE_SCTP = "azure cannot express sctp: remove it from this flow or target another provider"
MD_HEADER = "| target | resources | rules | verdict | counterexamples | assumptions |"

SCTP_SPEC = """\
version: 1
name: sig
segments:
  edge: {kubernetes: {namespace: telco, labels: {app: edge}}, cidr: 10.1.0.0/24}
  core: {kubernetes: {namespace: telco, labels: {app: core}}, cidr: 10.2.0.0/24}
flows:
  - {from: edge, to: core, ports: [sctp/38412]}
"""

needs_builtin = pytest.mark.skipif(set(builtin_available()) != {"aws", "azure", "gcp", "kubernetes"},
                                   reason="the four built-in providers are not all in this tree")


def verdict_table(out: str) -> list[list[str]]:
    """The rows of the targets table (columns are two or more spaces apart)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == HEADER)
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def section(out: str, head: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    return lines[start:]


@pytest.fixture
def sig(tmp_path: Path) -> Path:
    spec = tmp_path / "sig.yaml"
    spec.write_text(SCTP_SPEC)
    return spec


# ------------------------------------------------------ the example's stacks


@needs_builtin
def test_every_example_stack_makes_all_four_providers_equivalent(env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "--provider", "all", *STACK_ARGS], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = verdict_table(proc.stdout)
    assert [r[0] for r in rows] == [
        "aws (Pulumi.aws.yaml)", "azure (Pulumi.azure.yaml)", "gcp (Pulumi.gcp-sa.yaml)",
        "gcp (Pulumi.gcp.yaml)", "kubernetes (Pulumi.aws.yaml)", "kubernetes (Pulumi.kubernetes.yaml)"]
    assert all(r[3] == "equivalent" and r[4] == "0" for r in rows), rows
    assert all(int(r[1]) > 0 and int(r[2]) > 0 and int(r[5]) >= 2 for r in rows), rows
    assert "cannot express" not in proc.stdout  # no provider judged with a stack it does not name
    portability = section(proc.stdout, "portability:")
    assert portability[0] == ("portability: portable: each of the 6 targets (aws, azure, gcp, kubernetes) "
                              "expresses the spec and is equivalent")
    at = portability.index("    not governed by kubernetes (judged on aws, azure, gcp):")
    assert portability[at + 1] == "      corp-vpn -> vector-db tcp/6333-6334"
    # the spec's own @load-balancer flow: no target adds one of its own
    assert not any("@load-balancer" in line for line in portability), portability
    at = portability.index("    implied by kubernetes only:")
    assert portability[at + 1:at + 5] == [f"      {seg} -> @cluster-dns tcp/53 udp/53"
                                          for seg in ("feature-db", "gateway", "inference", "monitoring")]
    # below the table, each target's verdict as before: kubernetes judges all but the ungoverned flow
    lines = proc.stdout.splitlines()
    assert "azure (Pulumi.azure.yaml): equivalent (13 connection classes, 12 flows judged)" in lines
    assert "kubernetes (Pulumi.kubernetes.yaml): equivalent (21 connection classes, 11 flows judged)" in lines


@needs_builtin
def test_resources_and_rules_are_what_the_plans_hold(env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "-p", "all", *STACK_ARGS, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["portable"]["portable"] is True
    assert doc["portable"]["refused"] == [] and doc["portable"]["notEquivalent"] == []
    assert doc["portable"]["notGoverned"] == [{
        "flow": "corp-vpn -> vector-db tcp/6333-6334",
        "targets": ["kubernetes (Pulumi.aws.yaml)", "kubernetes (Pulumi.kubernetes.yaml)"],
        "others": ["aws (Pulumi.aws.yaml)", "azure (Pulumi.azure.yaml)", "gcp (Pulumi.gcp-sa.yaml)",
                   "gcp (Pulumi.gcp.yaml)"]}]
    for target in doc["targets"]:
        assert target["verdict"] == "equivalent" and target["equivalent"] is True
        assert target["target"] == f"{target['provider']} ({Path(target['stack']).name})"
        plan = run_cli(["plan", "-p", target["provider"], "--stack", target["stack"], "--format", "json"],
                       env)
        resources = json.loads(plan.stdout)["resources"]
        assert target["resources"] == len(resources)
        assert target["rules"] == expected_rules(target["provider"], resources), target["target"]


def expected_rules(provider: str, resources: list[dict]) -> int:
    """The rules a reviewer counts in the plan JSON, per target."""
    def of(kind: str) -> list[dict]:
        return [r["inputs"] for r in resources if r["type"].endswith(kind)]

    if provider == "aws":
        return len(of(":SecurityGroupIngressRule") + of(":SecurityGroupEgressRule") + of(":NetworkAclRule"))
    if provider == "azure":
        return sum(len(nsg["securityRules"]) for nsg in of(":NetworkSecurityGroup"))
    if provider == "gcp":
        return len(of(":Firewall"))
    return sum(len(p["spec"].get("ingress", [])) + len(p["spec"].get("egress", []))
               for p in of(":NetworkPolicy"))


@needs_builtin
def test_a_provider_no_stack_names_is_judged_once_with_set_alone(env: dict[str, str]) -> None:
    aws, k8s = EXAMPLE.parent / "Pulumi.aws.yaml", K8S_STACK
    proc = run_cli(["verify", "-p", "all", "--stack", aws, "--stack", k8s, *AZURE_PLACE, *GCP_REGION,
                    "--format", "json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    targets = [(t["target"], t["stack"], t["verdict"]) for t in json.loads(proc.stdout)["targets"]]
    assert targets == [("aws (Pulumi.aws.yaml)", str(aws), "equivalent"),
                       ("azure", None, "equivalent"),
                       ("gcp", None, "equivalent"),
                       ("kubernetes (Pulumi.aws.yaml)", str(aws), "equivalent"),
                       ("kubernetes (Pulumi.kubernetes.yaml)", str(k8s), "equivalent")]


@needs_builtin
def test_one_target_prints_its_verdict_without_a_table(env: dict[str, str]) -> None:
    proc = run_cli(["verify", "--stack", K8S_STACK], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("kubernetes: equivalent (")
    assert "TARGET" not in proc.stdout and "portability" not in proc.stdout


# ------------------------------------------- refused on one, fine on another


@needs_builtin
def test_a_flow_refused_on_one_target_and_fine_on_others(env: dict[str, str], sig: Path) -> None:
    proc = run_cli(["verify", sig, "-p", "all", *AZURE_PLACE, *GCP_REGION], env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    rows = {r[0]: r for r in verdict_table(proc.stdout)}
    assert rows["azure"][1:] == ["-", "-", "cannot express", "-", "-"]
    assert rows["kubernetes"][3:5] == ["equivalent", "0"]
    assert rows["gcp"][3] == "equivalent"
    portability = section(proc.stdout, "portability:")
    assert portability[0].startswith("portability: NOT portable across the 4 targets: refused by aws, azure")
    at = portability.index(f"  {sig}:7: flows[0] (edge -> core): refused by aws, azure, "
                           "fine on gcp, kubernetes")
    reasons = portability[at + 1:at + 3]
    assert f"    azure: {AZURE_SCTP}" in reasons
    assert any(r.startswith("    aws: AWS cannot restrict SCTP ports") for r in reasons), reasons
    # a setting is the refusing target's own: no "fine on" for it
    assert any(line.startswith("  settings.vpcCidr: refused by aws") and "fine on" not in line
               for line in portability)

    doc = json.loads(run_cli(["verify", sig, "-p", "all", *AZURE_PLACE, *GCP_REGION, "--format", "json"],
                             env).stdout)
    flow = next(r for r in doc["portable"]["refused"] if r["where"] == "flows[0] (edge -> core)")
    assert (flow["file"], flow["line"], flow["fineOn"]) == (str(sig), 7, ["gcp", "kubernetes"])
    assert {"target": "azure", "problem": AZURE_SCTP} in flow["refusedBy"]
    assert doc["portable"]["portable"] is False
    azure = next(t for t in doc["targets"] if t["target"] == "azure")
    assert (azure["verdict"], azure["equivalent"], azure["resources"], azure["rules"]) == (
        "cannot express", None, None, None)


@needs_builtin
def test_markdown_names_the_refused_flow_and_the_reason(env: dict[str, str], sig: Path) -> None:
    proc = run_cli(["verify", sig, "-p", "all", *AZURE_PLACE, *GCP_REGION, "--format", "markdown"], env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "### cloudfence verify: `sig`"
    at = lines.index(MD_HEADER)
    assert lines[at + 1] == "|---|---:|---:|---|---:|---:|"
    assert "| azure | - | - | **cannot express** | - | - |" in lines
    row = re.compile(r"\| kubernetes \| \d+ \| \d+ \| equivalent \| 0 \| \d+ \|")
    assert any(row.fullmatch(line) for line in lines)
    assert "**Not portable** across the 4 targets." in lines
    assert f"- `{sig}:7: flows[0] (edge -> core)`: refused by aws, azure, fine on gcp, kubernetes" in lines
    assert f"  - azure: {AZURE_SCTP}" in lines
    assert "#### azure: cannot express" in lines


# ---------------------------------------------------------------- exit status


@needs_builtin
def test_not_equivalent_wins_over_cannot_express(fake_env: dict[str, str]) -> None:
    # kubernetes without clusterCidrs refuses the example; fakecloud-leaky opens SSH
    args = ["verify", EXAMPLE, "-p", "all", *AZURE_PLACE, *GCP_REGION, *AWS_S3]
    proc = run_cli(args, fake_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {r[0]: r for r in verdict_table(proc.stdout)}
    assert rows["fakecloud-leaky"][3] == "NOT equivalent" and int(rows["fakecloud-leaky"][4]) > 0
    assert rows["fakecloud"][2] == "-"  # a provider that does not count its rules says so
    assert rows["kubernetes"][3] == "cannot express"
    portability = section(proc.stdout, "portability:")
    assert portability[0] == ("portability: NOT portable across the 6 targets: refused by kubernetes; "
                              "NOT equivalent on fakecloud-leaky")
    assert rows["aws"][3] == "equivalent"  # given its region, aws expresses the example
    assert any(line.startswith(f"  {EXAMPLE}:73: flows[8] (corp-vpn -> monitoring): refused by kubernetes, "
                               "fine on ") for line in portability), portability
    # without nodeCidrs and objectStorageCidrs it cannot place the platform endpoints either
    assert any(line.startswith(f"  {EXAMPLE}:45: flows[1] (@load-balancer -> gateway): refused by "
                               "kubernetes, fine on ") for line in portability), portability
    assert any(line.startswith(f"  {EXAMPLE}:65: flows[6] (inference -> @object-storage): refused by "
                               "kubernetes, fine on ") for line in portability), portability
    markdown = run_cli([*args, "--format", "markdown"], fake_env)
    assert markdown.returncode == 1
    lines = markdown.stdout.splitlines()
    assert "| kind | explanation | source | destination | protocol | port | ports |" in lines
    assert "- NOT equivalent on fakecloud-leaky: see the counterexamples below" in lines
    doc = json.loads(run_cli([*args, "--format", "json"], fake_env).stdout)
    assert doc["portable"]["notEquivalent"] == ["fakecloud-leaky"]


def test_fake_targets_table_in_process(fakes: dict) -> None:
    code, out, _ = cli("verify", EXAMPLE, "-p", "all")
    assert code == 1
    rows = verdict_table(out)
    assert [(r[0], r[2], r[3]) for r in rows] == [("fakecloud", "-", "equivalent"),
                                                  ("fakecloud-leaky", "-", "NOT equivalent")]
    assert rows[0][1].isdigit() and int(rows[0][1]) > 0


@needs_builtin
def test_one_target_in_markdown_and_from_a_plan_file(env: dict[str, str], tmp_path: Path) -> None:
    proc = run_cli(["verify", "--stack", K8S_STACK, "--format", "markdown"], env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    at = lines.index(MD_HEADER)
    assert re.fullmatch(r"\| kubernetes \| \d+ \| \d+ \| equivalent \| 0 \| \d+ \|", lines[at + 2])
    assert lines[at + 3] == ""
    assert "**Portable**: kubernetes expresses the spec and is equivalent." in lines
    plan = tmp_path / "k8s.plan.json"
    plan.write_text(run_cli(["plan", "--stack", K8S_STACK, "--format", "json"], env).stdout)
    resources = json.loads(plan.read_text())["resources"]
    judged = run_cli(["verify", EXAMPLE, "-p", "kubernetes", "--plan", plan, "--format", "json"], env)
    assert judged.returncode == 0, judged.stderr
    (target,) = json.loads(judged.stdout)["targets"]
    assert (target["verdict"], target["resources"], target["rules"]) == (
        "equivalent", len(resources), expected_rules("kubernetes", resources))
