"""Stack config (DESIGN section 4): `cloudfence:spec` and `cloudfence:providers`, read
strictly by the CLI's --stack and by the Segmentation component alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from cloudfence.deploy.component import Segmentation
from cloudfence.deploy.engine import run_program, run_stack
from cloudfence.errors import CloudfenceError
from cloudfence.intent import load_intent
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan
from cloudfence.stackconfig import read_config
from tests.fakeplugin import (
    AWS_EXAMPLE,
    AWS_S3,
    AZURE_PLACE,
    CLUSTER_CIDRS,
    EXAMPLE,
    GCP_REGION,
    K8S_EXAMPLE,
    NODE_CIDRS,
    OBJECT_STORAGE_CIDRS,
    ROOT,
    invoke,
)

STACK = EXAMPLE.parent
AWS_STACK = STACK / "Pulumi.aws.yaml"
COMPONENT = Segmentation.TYPE
needs_builtin = pytest.mark.skipif(not {"aws", "kubernetes"} <= set(providers()),
                                   reason="built-in providers not installed")


def problems(config: dict) -> list[str]:
    with pytest.raises(CloudfenceError) as exc:
        read_config(config, "Pulumi.dev.yaml")
    return [str(p) for p in exc.value.problems]


def test_the_first_contracts_keys_are_refused_with_the_exact_rewrite() -> None:
    assert problems({"cloudfence:provider": "aws", "cloudfence:spec": "segments.yaml",
                     "cloudfence:kubernetes": True, "cloudfence:settings": {"nacls": True},
                     "cloudfence:kubernetesSettings": {"dns": False}}) == [
        "Pulumi.dev.yaml: config.cloudfence:provider: cloudfence:provider, cloudfence:settings, "
        "cloudfence:kubernetes, cloudfence:kubernetesSettings: no longer read; write "
        "`cloudfence:providers: {aws: {nacls: true}, kubernetes: {dns: false}}` instead"]


@pytest.mark.parametrize(("config", "says"), [
    ({"cloudfence:spek": "s.yaml"}, "config.cloudfence:spek: unknown cloudfence key (did you mean "
                                    "'cloudfence:spec'?)"),
    ({"cloudfence:provider": {"aws": {}}}, "config.cloudfence:provider: unknown cloudfence key (did you "
                                           "mean 'cloudfence:providers'?)"),
    ({"cloudfence:setting": {"vpcId": "vpc-0abc1234"}}, "config.cloudfence:setting: unknown cloudfence key "
                                                        "(settings now go under cloudfence:providers"),
    ({"cloudfense:spec": "s.yaml"}, "config.cloudfense:spec: unknown namespace 'cloudfense' (did you mean "
                                    "'cloudfence:spec'?)"),
    ({"cloudfence:providers": ["aws"]}, "config.cloudfence:providers: expected a mapping of provider name"),
    ({"cloudfence:providers": {"aws": "vpc-0abc1234"}}, "config.cloudfence:providers.aws: expected a "
                                                        "mapping of setting names"),
])
def test_every_cloudfence_key_is_strict(config: dict, says: str) -> None:
    assert problems(config)[0].startswith(f"Pulumi.dev.yaml: {says}")


def test_providers_in_the_order_written() -> None:
    stack = read_config({"cloudfence:providers": {"kubernetes": None, "aws": {"nacls": True}},
                         "aws:region": "us-east-1"})
    assert stack.providers == {"kubernetes": {}, "aws": {"nacls": True}}


# ------------------------------------------------------------------------ CLI


@needs_builtin
def test_plan_of_several_stacks_names_the_stack_of_each_table() -> None:
    gcp, gcp_sa = STACK / "Pulumi.gcp.yaml", STACK / "Pulumi.gcp-sa.yaml"
    code, out, err = invoke("plan", "--stack", gcp, "--stack", gcp_sa)
    assert code == 0, err
    headings = [line.split(":")[0] for line in out.splitlines() if line.startswith("ai-inference on ")]
    assert headings == ["ai-inference on gcp (Pulumi.gcp.yaml)", "ai-inference on gcp (Pulumi.gcp-sa.yaml)"]
    code, out, err = invoke("plan", "--stack", gcp)
    assert code == 0, err
    assert out.startswith("ai-inference on gcp: ")


@needs_builtin
def test_verify_stack_judges_every_target_it_names() -> None:
    code, out, err = invoke("verify", "--stack", AWS_STACK, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert {t["provider"]: t["equivalent"] for t in doc["targets"]} == {"aws": True, "kubernetes": True}


@needs_builtin
def test_plan_stack_prints_one_plan_per_target_with_its_settings() -> None:
    code, out, err = invoke("plan", EXAMPLE, "--stack", AWS_STACK, "--format", "json")
    assert code == 0, err
    plans = json.loads(out)["plans"]
    assert [(p["provider"], p["settings"].get("nacls")) for p in plans] == [
        ("aws", True), ("kubernetes", None)]
    aws = checked_plan(providers()["aws"], load_intent(EXAMPLE),
                       {**AWS_EXAMPLE, "vpcCidr": "10.20.0.0/16", "nacls": True})
    assert plans[0] == aws.to_json()


@needs_builtin
def test_a_spec_other_than_the_stacks_is_an_error(tmp_path: Path) -> None:
    other = tmp_path / "segments.yaml"
    other.write_text(EXAMPLE.read_text())
    code, _, err = invoke("verify", other, "--stack", AWS_STACK)
    assert code == 2
    assert err.startswith(f"error: {AWS_STACK}: config.cloudfence:spec: names segments.yaml")


@needs_builtin
def test_settings_refuses_a_stack_file() -> None:
    code, _, err = invoke("verify", EXAMPLE, "-p", "aws", "--settings", AWS_STACK)
    assert code == 2
    assert err == (f"error: {AWS_STACK}: this is a Pulumi stack file, not a settings mapping: use --stack "
                   f"{AWS_STACK} (it acts on every provider the stack names)\n")


@needs_builtin
def test_unknown_provider_and_misspelt_setting_in_a_stack(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(f"config:\n  cloudfence:spec: {EXAMPLE}\n  cloudfence:providers:\n    AWS: {{}}\n")
    code, _, err = invoke("verify", "--stack", stack)
    assert (code, err) == (2, f"error: {stack}: config.cloudfence:providers.AWS: unknown provider 'AWS' "
                              "(did you mean 'aws'?)\n")
    stack.write_text(f"config:\n  cloudfence:spec: {EXAMPLE}\n  cloudfence:providers:\n"
                     "    aws: {vpc_id: vpc-0abc1234}\n")
    code, _, err = invoke("verify", "--stack", stack)
    assert code == 2
    assert err.startswith(f"error: {stack}: config.cloudfence:providers.aws.vpc_id: unknown aws setting "
                          "(did you mean 'vpcId'?)")


@needs_builtin
def test_all_takes_settings_from_the_stack_and_scoped_set() -> None:
    code, out, err = invoke("plan", "--stack", AWS_STACK, "-p", "all", "--set", "kubernetes.dns=false",
                            *AZURE_PLACE, "--format", "json", *GCP_REGION)
    assert code == 0, err
    by_name = {p["provider"]: p for p in json.loads(out)["plans"]}
    assert by_name["aws"]["settings"]["nacls"] is True
    assert by_name["kubernetes"]["settings"]["dns"] is False


@needs_builtin
def test_via_pulumi_without_the_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "pulumi_aws" or m.startswith("pulumi_aws.")] + [
            "pulumi_aws", "pulumi_aws.ec2", "pulumi_aws.vpc"]:
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules: the import fails
    code, _, err = invoke("plan", EXAMPLE, "-p", "aws", *AWS_S3, "--via-pulumi")
    assert code == 2
    assert err.startswith("error: the aws provider's Pulumi SDK is not installed")
    assert err.rstrip().endswith("pip install 'cloudfence[aws]'")
    with pytest.raises(pulumi.RunError, match=r"pip install 'cloudfence\[aws\]'"):
        run_program(lambda: Segmentation(intent=load_intent(EXAMPLE), providers={"aws": AWS_EXAMPLE}))


# ------------------------------------------------------------------ component


@needs_builtin
def test_component_reads_the_stack_keys_strictly() -> None:
    config = {"cloudfence:spec": str(EXAMPLE), "cloudfence:providers": {"kubernetes": {}},
              "cloudfence:kubernetes": True}
    with pytest.raises(pulumi.RunError, match="cloudfence:kubernetes: no longer read; write "
                                              r"`cloudfence:providers: \{kubernetes: \{\}\}` instead"):
        run_program(Segmentation, config=config, project="p")
    config = {"cloudfence:spec": str(EXAMPLE), "cloudfence:providers": {"kubernetes": {"dnss": False}}}
    with pytest.raises(pulumi.RunError, match=r"settings.dnss: unknown kubernetes setting \(did you mean"):
        run_program(Segmentation, config=config, project="p")


@needs_builtin
def test_component_name_defaults_to_the_spec_and_registers_the_plan() -> None:
    settings = {"dns": False, **K8S_EXAMPLE}
    config = {"cloudfence:spec": str(EXAMPLE), "cloudfence:providers": {"kubernetes": settings}}
    result = run_program(Segmentation, config=config, project="p")
    plan = checked_plan(providers()["kubernetes"], load_intent(EXAMPLE), settings)
    assert [r.name for r in result.resources if r.type == COMPONENT] == ["ai-inference"]
    assert sorted(r.name for r in result.resources if r.type != COMPONENT) == sorted(r.name for r in plan)


@needs_builtin
def test_two_components_with_an_explicit_provider_and_protect() -> None:
    import pulumi_aws

    intent = load_intent(EXAMPLE)

    def program() -> None:
        east = pulumi_aws.Provider("east-aws", region="us-east-1")
        Segmentation("east", intent=intent, providers={"aws": {"vpcCidr": "10.20.0.0/16", **AWS_EXAMPLE}},
                     opts=pulumi.ResourceOptions(provider=east, protect=True))
        Segmentation("west", intent=intent,
                     providers={"aws": AWS_EXAMPLE, "kubernetes": K8S_EXAMPLE})

    result = run_program(program)
    plan = checked_plan(providers()["aws"], intent, AWS_EXAMPLE)
    children = {c: [r for r in result.resources if r.parent == c] for c in ("east", "west")}
    suffixes = sorted(r.name.removeprefix(intent.name) for r in plan)
    assert sorted(r.name.removeprefix("east") for r in children["east"]) == suffixes
    assert all(r.name == "west" or r.name.startswith("west-") for r in children["west"])
    urns = [(r.type, r.name) for r in result.resources]
    assert len(set(urns)) == len(urns)  # no two resources share a URN
    for r in children["east"]:
        assert r.options.get("provider") == "east-aws" and r.options.get("protect") is True, r
    for r in children["west"]:
        assert r.options.get("provider") != "east-aws" and not r.options.get("protect"), r


@needs_builtin
def test_a_stack_folder_with_its_own_core_and_providers_modules(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: shadow\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  cloudfence:spec: segments.yaml\n  cloudfence:providers:\n"
        f"    kubernetes: {{clusterCidrs: [{', '.join(CLUSTER_CIDRS)}], "
        f"nodeCidrs: [{', '.join(NODE_CIDRS)}], objectStorageCidrs: [{', '.join(OBJECT_STORAGE_CIDRS)}]}}\n")
    (tmp_path / "segments.yaml").write_text(EXAMPLE.read_text())
    (tmp_path / "core.py").write_text("raise ImportError('the stack folder core.py was imported')\n")
    (tmp_path / "providers.py").write_text("raise ImportError('the stack folder providers.py was used')\n")
    (tmp_path / "__main__.py").write_text((STACK / "__main__.py").read_text())
    code = ("import sys; from cloudfence.deploy.engine import run_stack; "
            f"r = run_stack({str(tmp_path)!r}, 'dev'); print(len(r.resources))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) > 1
    # in-process too, the way the test suite runs stacks
    assert run_stack(tmp_path, "dev").outputs["segments"]
    assert ROOT.exists()


@needs_builtin
def test_a_misspelt_setting_in_a_stack_file_names_the_file_and_its_key(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(f"config:\n  cloudfence:spec: {EXAMPLE}\n  cloudfence:providers:\n"
                     "    aws: {nacl: true}\n")
    code, _, err = invoke("verify", "--stack", stack)
    assert code == 2
    assert err.startswith(f"error: {stack}: config.cloudfence:providers.aws.nacl: unknown aws setting "
                          "(did you mean 'nacls'?)")
