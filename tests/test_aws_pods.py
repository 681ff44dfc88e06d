"""EKS security groups for pods (settings.securityGroupsForPods): one SecurityGroupPolicy
per pod segment, registered through pulumi_kubernetes, and judged by verify: a pod
segment's groups are attached by exactly the pods it selects, and a policy that says
otherwise is a counterexample or a refusal naming it."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloudfence.errors import CheckError, CloudfenceError
from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan, Resource, ref
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.aws.pods import POLICY
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import LEGACY_RULE
from cloudfence.verify import verify_plan
from tests.fakeplugin import AWS_EXAMPLE, AWS_S3, run_cli
from tests.test_aws_compile import EXAMPLE

AWS = AwsProvider()
INTENT = load_intent(EXAMPLE)
PODS = {**AWS_EXAMPLE, "securityGroupsForPods": True}
POD_SEGMENTS = {"gateway": ("serving", {"role": "frontend"}),
                "inference": ("serving", {"app": "ai-inference"}),
                "feature-db": ("data", {"role": "database"}),
                "monitoring": ("monitoring", {"app": "prometheus"})}


def plan_with(settings: dict[str, Any] = PODS) -> Plan:
    return checked_plan(AWS, INTENT, settings)


def policies(plan: Plan) -> dict[str, Resource]:
    return {r.inputs["metadata"]["name"]: r for r in plan.resources if r.type == POLICY}


def mutated(plan: Plan, segment: str, change: Any) -> Plan:
    """The plan with the policy of one segment changed (None: removed)."""
    out = []
    for r in plan.resources:
        if r.type == POLICY and r.inputs["metadata"]["labels"]["cloudfence.io/segment"] == segment:
            inputs = copy.deepcopy(r.inputs)
            if change is None:
                continue
            change(inputs)
            r = Resource(r.type, r.name, inputs)
        out.append(r)
    return replace(plan, resources=tuple(out))


# ------------------------------------------------------------ compile


def test_one_policy_per_pod_segment_selecting_its_pods_with_its_groups():
    plan = plan_with()
    found = policies(plan)
    assert sorted(found) == sorted(f"ai-inference-{s}" for s in POD_SEGMENTS)
    for seg, (namespace, labels) in POD_SEGMENTS.items():
        r = found[f"ai-inference-{seg}"]
        assert r.inputs["apiVersion"] == "vpcresources.k8s.aws/v1beta1"
        assert r.inputs["kind"] == "SecurityGroupPolicy"
        assert r.inputs["metadata"]["namespace"] == namespace
        assert r.inputs["spec"] == {"podSelector": {"matchLabels": labels},
                                    "securityGroups": {"groupIds": [ref(f"ai-inference-{seg}")]}}


def test_without_the_setting_no_policy_is_written():
    assert not policies(plan_with(AWS_EXAMPLE))


def test_policies_carry_no_region():
    plan = plan_with({**PODS, "region": "eu-west-1"})
    assert all("region" not in r.inputs for r in policies(plan).values())
    assert all(r.inputs["region"] == "eu-west-1" for r in plan.resources if r.type != POLICY)


def test_the_setting_without_pod_segments_is_refused():
    intent = parse_intent("version: 1\nname: t\nsegments:\n  a: {cidr: 10.0.1.0/24}\nflows: []\n")
    problems = find_problems(AWS, intent, PODS)
    assert [p.where for p in problems] == ["settings.securityGroupsForPods"]
    assert "kubernetes" in problems[0].message


def test_a_bad_value_names_the_key():
    with pytest.raises(CheckError) as exc:
        plan_with({"securityGroupsForPods": "sometimes"})
    assert "settings.securityGroupsForPods" in str(exc.value)


# ------------------------------------------------------------ Pulumi


def test_policies_register_as_kubernetes_custom_resources():
    from pulumi_kubernetes.apiextensions import CustomResource

    from cloudfence.deploy.emitter import registered_plan

    assert AWS.sdk_class(POLICY) is CustomResource
    settings = {**PODS, "region": "eu-west-1"}
    registered = registered_plan(INTENT, AWS, settings)
    assert registered == json.loads(json.dumps(plan_with(settings).to_json()))
    sgps = [r for r in registered["resources"] if r["type"] == POLICY]
    assert len(sgps) == len(POD_SEGMENTS)
    gateway = next(r for r in sgps if r["inputs"]["metadata"]["name"] == "ai-inference-gateway")
    assert gateway["inputs"]["apiVersion"] == "vpcresources.k8s.aws/v1beta1"
    assert gateway["inputs"]["kind"] == "SecurityGroupPolicy"
    assert gateway["inputs"]["spec"] == {"podSelector": {"matchLabels": {"role": "frontend"}},
                                         "securityGroups": {"groupIds": ["${ai-inference-gateway.id}"]}}


# ------------------------------------------------------------ verify


def test_the_plan_verifies_and_says_what_it_rests_on():
    verdict = verify_plan(INTENT, AWS, plan_with(), checked=True)
    assert verdict.equivalent
    text = "\n".join(verdict.assumptions)
    for needed in ("ENABLE_POD_ENI", "POD_SECURITY_GROUP_ENFORCING_MODE", "Nitro", "node's security groups"):
        assert needed in text


def test_without_the_setting_the_assumption_names_the_pod_segments():
    verdict = verify_plan(INTENT, AWS, plan_with(AWS_EXAMPLE), checked=True)
    assert verdict.equivalent
    line = next(a for a in verdict.assumptions if "SecurityGroupPolicy" in a)
    assert all(seg in line for seg in POD_SEGMENTS) and "securityGroupsForPods" in line


def _labels(labels: dict[str, str]) -> Any:
    return lambda i: i["spec"]["podSelector"].update(matchLabels=labels)


def _namespace(ns: str) -> Any:
    return lambda i: i["metadata"].update(namespace=ns)


def _groups(*ids: str) -> Any:
    return lambda i: i["spec"]["securityGroups"].update(groupIds=list(ids))


@pytest.mark.parametrize("segment, change, source, destination", [
    # Every pod of namespace serving attaches inference's group: pods of no segment reach feature-db.
    ("inference", _labels({}), "pods of no segment in namespace serving", "feature-db"),
    # The policy selects pods of another namespace: those reach feature-db, inference's pods carry
    # their node's groups (anything reaches them).
    ("inference", _namespace("tenant"), "pods of no segment in namespace tenant", "feature-db"),
    ("inference", _namespace("tenant"), "internet", "inference"),
    # Gateway's pods carry inference's group: they reach feature-db.
    ("gateway", _groups(ref("ai-inference-inference")), "gateway", "feature-db"),
    # Gateway's pods also carry vector-db's group: corp-vpn reaches them on qdrant.
    ("gateway", _groups(ref("ai-inference-gateway"), ref("ai-inference-vector-db")), "corp-vpn", "gateway"),
    # A group outside the plan: its rules are unknown.
    ("gateway", _groups("sg-0123456789abcdef0"), "internet", "gateway"),
    # No policy: the pods carry their node's groups.
    ("feature-db", None, "internet", "feature-db"),
])
def test_a_wrong_policy_is_a_counterexample(segment, change, source, destination):
    verdict = verify_plan(INTENT, AWS, mutated(plan_with(), segment, change))
    assert not verdict.equivalent
    assert any(c.kind == "extra" and c.source.startswith(source) and c.destination.startswith(destination)
               for c in verdict.counterexamples), verdict.counterexamples


def test_a_missing_policy_also_loses_the_segments_flows():
    verdict = verify_plan(INTENT, AWS, mutated(plan_with(), "feature-db", None), limit=200)
    # feature-db's group is attached by nobody, so inference's egress to it matches no one.
    assert any(c.kind == "missing" and c.source.startswith("inference")
               and c.destination.startswith("feature-db") for c in verdict.counterexamples)


@pytest.mark.parametrize("segment, change, where", [
    # A label the segment does not give: only some of its pods would attach the group.
    ("inference", _labels({"app": "ai-inference", "tier": "gpu"}), "podSelector"),
    # Selecting by service account: labels the spec does not know.
    ("inference", lambda i: i["spec"].update(serviceAccountSelector={"matchLabels": {"a": "b"}}),
     "serviceAccountSelector"),
    ("inference", lambda i: i["spec"]["podSelector"].update(
        matchExpressions=[{"key": "app", "operator": "Exists"}]), "podSelector"),
])
def test_a_policy_verify_cannot_read_exactly_is_refused_by_name(segment, change, where):
    with pytest.raises(CloudfenceError) as exc:
        verify_plan(INTENT, AWS, mutated(plan_with(), segment, change))
    assert "ai-inference-inference-pods" in str(exc.value) and where in str(exc.value)


# ------------------------------------------------------------ deployed


def test_a_stack_state_is_judged_with_its_policies(env: dict[str, str], tmp_path: Path) -> None:
    from tests import deployedstate

    settings = ["--set", "aws.vpcCidr=10.20.0.0/16", "--set", "aws.securityGroupsForPods=true", *AWS_S3]
    doc = deployedstate.stack_export(deployedstate.compiled("aws", {"vpcCidr": "10.20.0.0/16", **PODS}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(doc))
    proc = run_cli(["verify", str(EXAMPLE), "-p", "aws", *settings, "--deployed", str(state)], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ENABLE_POD_ENI" in proc.stdout
    # The policies deleted from the cluster: the pods carry their node's groups.
    doc["deployment"]["resources"] = [r for r in doc["deployment"]["resources"] if r["type"] != POLICY]
    state.write_text(json.dumps(doc))
    proc = run_cli(["verify", str(EXAMPLE), "-p", "aws", *settings, "--deployed", str(state)], env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "feature-db" in proc.stdout


def test_a_rule_written_the_legacy_way_matches_whoever_attaches_the_group():
    """A legacy `ec2.SecurityGroupRule` naming inference's group admits the pods of no segment
    that a widened policy gives that group, as the standalone rule would."""
    plan = mutated(plan_with(), "inference", _labels({}))
    name = "ai-inference-feature-db-in-tcp-5432-from-inference"
    standalone = plan.get(name)
    legacy = Resource(LEGACY_RULE, name, {
        "type": "ingress", "securityGroupId": standalone.inputs["securityGroupId"], "protocol": "tcp",
        "fromPort": 5432, "toPort": 5432, "sourceSecurityGroupId": ref("ai-inference-inference")})
    plan = replace(plan, resources=tuple(legacy if r.name == name else r for r in plan.resources))
    verdict = verify_plan(INTENT, AWS, plan)
    assert any(c.kind == "extra" and c.source.startswith("pods of no segment in namespace serving")
               and c.destination.startswith("feature-db") and c.ports == "5432"
               for c in verdict.counterexamples), verdict.counterexamples


def test_via_pulumi_without_the_kubernetes_sdk_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from click.testing import CliRunner

    from cloudfence.cli import main

    for module in [m for m in sys.modules if m.startswith("pulumi_kubernetes")] + [
            "pulumi_kubernetes", "pulumi_kubernetes.apiextensions"]:
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules: the import fails
    result = CliRunner().invoke(main, ["plan", str(EXAMPLE), "-p", "aws", *AWS_S3, "--set",
                                       "aws.securityGroupsForPods=true", "--via-pulumi"])
    assert result.exit_code == 2, result.output
    assert "securityGroupsForPods" in result.output and "cloudfence[aws,kubernetes]" in result.output


@pytest.mark.parametrize("value, says", [("maybe", "settings.securityGroupsForPods"),
                                         ("[true]", "settings.securityGroupsForPods")])
def test_the_cli_exits_2_naming_the_key(value, says):
    from click.testing import CliRunner

    from cloudfence.cli import main

    result = CliRunner().invoke(main, ["verify", str(EXAMPLE), "-p", "aws", "--set",
                                       f"aws.securityGroupsForPods={value}"])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output


def test_pods_given_the_load_balancers_group_are_admitted_as_the_load_balancer():
    """A policy that gives gateway's pods the group exports['@load-balancer'] lets them in
    wherever the load balancer is admitted."""
    text = EXAMPLE.read_text() + ("  - from: '@load-balancer'\n    to: inference\n    ports: [http]\n"
                                  "    description: health checks\n")
    intent = parse_intent(text)
    plan = checked_plan(AWS, intent, PODS)
    verdict = verify_plan(intent, AWS, plan, checked=True)
    assert verdict.equivalent, verdict.counterexamples
    lb = next(r.name for r in plan.resources if r.inputs.get("tags", {}).get("cloudfence:endpoint"))
    found = mutated(plan, "monitoring", _groups(ref("ai-inference-monitoring"), ref(lb)))
    verdict = verify_plan(intent, AWS, found)
    assert any(c.kind == "extra" and c.source.startswith("monitoring")
               and c.destination.startswith("inference") and c.ports == "80"
               for c in verdict.counterexamples), verdict.counterexamples


def test_the_plan_table_and_diff_read_a_policy():
    plan = plan_with()
    gateway = next(r for r in policies(plan).values() if r.inputs["metadata"]["namespace"] == "serving"
                   and r.inputs["spec"]["podSelector"]["matchLabels"] == {"role": "frontend"})
    assert AWS.summarize(gateway) == "serving: role=frontend attach ai-inference-gateway"
    moved = copy.deepcopy(gateway.inputs)
    moved["metadata"]["namespace"] = "edge"
    assert AWS.replaced_by(gateway, Resource(gateway.type, gateway.name, moved)) == ["metadata.namespace"]
    widened = copy.deepcopy(gateway.inputs)
    widened["spec"]["podSelector"]["matchLabels"] = {}
    assert AWS.replaced_by(gateway, Resource(gateway.type, gateway.name, widened)) == []  # an update


def test_pods_of_no_segment_given_a_group_outside_the_plan_are_unfiltered():
    """A policy for every pod of a namespace no segment names, with a literal group id:
    those pods' rules are unknown, so they reach whatever admits anyone."""
    def widen(i: dict) -> None:
        i["metadata"]["namespace"] = "tenant"
        i["spec"]["securityGroups"]["groupIds"] = ["sg-0123456789abcdef0"]

    verdict = verify_plan(INTENT, AWS, mutated(plan_with(), "gateway", widen), limit=500)
    outsiders = [c for c in verdict.counterexamples if c.source.startswith("pods of no segment")
                 or c.destination.startswith("pods of no segment")]
    assert any(c.kind == "extra" and c.destination.startswith("pods of no segment") for c in outsiders)


def test_plan_via_pulumi_registers_the_policies(env: dict[str, str]) -> None:
    args = ["plan", str(EXAMPLE), "-p", "aws", *AWS_S3, "--set", "aws.securityGroupsForPods=true",
            "--format", "json"]
    offline = run_cli(args, env, timeout=180)
    registered = run_cli([*args, "--via-pulumi"], env, timeout=180)
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout) == json.loads(offline.stdout)
    records = json.loads(registered.stdout)["resources"]
    kinds = {(r["inputs"]["apiVersion"], r["inputs"]["kind"]) for r in records if r["type"] == POLICY}
    assert kinds == {("vpcresources.k8s.aws/v1beta1", "SecurityGroupPolicy")}


def test_pod_segments_whose_selectors_nest_are_refused_with_the_setting():
    # a's SecurityGroupPolicy {app: x} would give b's pods (app=x, tier=db) a's groups too
    text = ("version: 1\nname: ov\nsegments:\n"
            "  a: {cidr: 10.0.1.0/24, kubernetes: {namespace: n, labels: {app: x}}}\n"
            "  b: {cidr: 10.0.2.0/24, kubernetes: {namespace: n, labels: {app: x, tier: db}}}\n"
            "  c: {cidr: 10.0.3.0/24}\nflows:\n  - {from: a, to: c, ports: [tcp/22]}\n")
    intent = parse_intent(text, "ov.yaml")
    (p,) = [str(p) for p in find_problems(AWS, intent, PODS)]
    assert p.startswith("ov.yaml:4: segments.a.kubernetes: labels {app=x} of segment 'a' also select the "
                        "pods of segment 'b' in namespace 'n', so the SecurityGroupPolicy of 'a'")
    assert find_problems(AWS, intent, AWS_EXAMPLE) == []  # without policies, pods are not selected
