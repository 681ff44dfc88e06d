"""The Pulumi layer registers exactly the plan: per provider, per resource
type, and for the example stack as `pulumi up` would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cloudfence.deploy.engine import run_stack
from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import find_refs
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "stacks" / "ai-inference"
SPEC = STACK / "segments.yaml"
COMPONENT = "cloudfence:index:Segmentation"
BUILT_IN = [name for name in ("kubernetes", "aws", "azure", "gcp") if name in providers()]


def _settings_for(provider: str) -> dict:
    path = STACK / f"Pulumi.{provider}.yaml"
    if not path.exists():
        return {}
    config = yaml.safe_load(path.read_text())["config"] or {}
    return (config.get("cloudfence:providers") or {}).get(provider) or {}


@pytest.mark.parametrize("name", BUILT_IN)
def test_registered_resources_equal_the_plan(name: str) -> None:
    from cloudfence.deploy.emitter import registered_plan

    provider = providers()[name]
    intent = load_intent(SPEC)
    settings = _settings_for(name)
    plan = checked_plan(provider, intent, settings).to_json()
    registered = registered_plan(intent, provider, settings)
    assert {r["type"] for r in registered["resources"]} == {r["type"] for r in plan["resources"]}
    by_type: dict[str, int] = {}
    for r in plan["resources"]:
        by_type[r["type"]] = by_type.get(r["type"], 0) + 1
    assert by_type, "the example must emit resources"
    # Record by record: what Pulumi registered is what `plan` printed.
    assert json.dumps(registered, sort_keys=True) == json.dumps(plan, sort_keys=True)


@pytest.mark.parametrize("name", BUILT_IN)
def test_references_read_as_the_plan_writes_them(name: str) -> None:
    from cloudfence.deploy.emitter import registered_plan

    provider = providers()[name]
    intent = load_intent(SPEC)
    registered = registered_plan(intent, provider, _settings_for(name))
    names = {r["name"] for r in registered["resources"]}
    for record in registered["resources"]:
        for _, target, _ in find_refs(record["inputs"]):
            assert target in names


STACK_FILES = sorted(p.name.split(".")[1] for p in STACK.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACK_FILES)
def test_example_stack_runs_as_pulumi_up_would(stack: str) -> None:
    config = yaml.safe_load((STACK / f"Pulumi.{stack}.yaml").read_text())["config"]
    result = run_stack(STACK, stack)
    intent = load_intent(SPEC)

    components = [r for r in result.resources if r.type == COMPONENT]
    assert [c.name for c in components] == [intent.name]
    children = [r for r in result.resources if r.type != COMPONENT]
    assert children and all(r.parent == intent.name and r.parent_type == COMPONENT for r in children)

    targets = config["cloudfence:providers"]
    expected = []
    for target, settings in targets.items():
        expected += checked_plan(providers()[target], intent, settings).to_json()["resources"]
    got = [{"type": r.type, "name": r.name, "inputs": r.inputs} for r in children]
    want = [{"type": r["type"], "name": r["name"], "inputs": r["inputs"]} for r in expected]
    key = lambda r: (r["type"], r["name"])  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)

    exported = result.outputs["segments"]
    # Every segment, plus the platform endpoints a target gives a resource of its own: on AWS
    # the `<spec>-load-balancer` security group that `@load-balancer` flows name.
    endpoints = {"@load-balancer"} if "aws" in targets else set()
    assert set(exported) == set(intent.segments) | endpoints
    if "aws" in targets:
        assert exported["@load-balancer"] == {"securityGroupId": f"${{{intent.name}-load-balancer.id}}"}
    for target, settings in targets.items():
        plan = checked_plan(providers()[target], intent, settings)
        for seg, values in plan.exports.items():
            for key_, value in values.items():
                # Mock ids read "${name.id}", so resolved references equal the plan's spelling.
                assert exported[seg][key_] == value, (seg, key_)


def test_stack_config_errors_reach_the_user_without_traceback(tmp_path: Path) -> None:
    import pulumi

    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  cloudfence:providers: {nosuchcloud: {}}\n  cloudfence:spec: segments.yaml\n")
    (tmp_path / "segments.yaml").write_text(SPEC.read_text())
    (tmp_path / "__main__.py").write_text((STACK / "__main__.py").read_text())
    with pytest.raises(pulumi.RunError, match="unknown provider 'nosuchcloud'"):
        run_stack(tmp_path, "dev")


@pytest.mark.parametrize("name", BUILT_IN)
def test_editing_one_flow_renames_nothing_else(name: str) -> None:
    provider = providers()[name]
    text = SPEC.read_text()
    edited = text.replace("ports: [qdrant]\n    description: retrieval",
                          "ports: [tcp/6333]\n    description: retrieval")
    assert edited != text
    settings = _settings_for(name)
    before = {r.name: r for r in checked_plan(provider, parse_intent(text), settings)}
    after = {r.name: r for r in checked_plan(provider, parse_intent(edited), settings)}
    renamed = set(before) ^ set(after)
    assert all("inference" in n and "vector-db" in n for n in renamed), sorted(renamed)
    # Records of other flows keep their names and their inputs.
    for n in set(before) & set(after):
        if "vector-db" not in n and "inference" not in n:
            assert before[n].inputs == after[n].inputs, n
