"""GCP provider, Pulumi side: the records register through the real pulumi_gcp
classes exactly as planned (mock runtime), per resource type; the gcp stacks
(network tags, service accounts) run and export what workloads attach."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudfence.deploy.emitter import registered_plan, snake
from cloudfence.deploy.engine import run_stack
from cloudfence.intent import load_intent
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.gcp.wire import FIREWALL, NETWORK, SDK_CLASSES, SUBNETWORK

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "stacks" / "ai-inference"
EXAMPLE = STACK / "segments.yaml"
GCP = GcpProvider()
INTENT = load_intent(EXAMPLE)
CREATED = {"region": "us-central1", "project": "ai-inference-prod"}
ACCOUNTS = {"network": "prod", "identity": "serviceAccount",
            "serviceAccounts": {s: f"{s}@ai-inference-prod.iam.gserviceaccount.com" for s in INTENT.segments}}


def test_sdk_classes_are_the_pulumi_gcp_ones():
    import pulumi_gcp

    assert GCP.sdk_class(FIREWALL) is pulumi_gcp.compute.Firewall
    assert GCP.sdk_class(NETWORK) is pulumi_gcp.compute.Network
    assert GCP.sdk_class(SUBNETWORK) is pulumi_gcp.compute.Subnetwork
    with pytest.raises(KeyError, match="does not emit"):
        GCP.sdk_class("gcp:compute/route:Route")


def test_every_class_registers_under_its_type_token():
    for token in SDK_CLASSES:
        assert f"'{token}'" in inspect.getsource(GCP.sdk_class(token)), token


@pytest.mark.parametrize("settings", [CREATED, ACCOUNTS])
def test_every_input_is_a_keyword_of_its_sdk_class(settings):
    for r in checked_plan(GCP, INTENT, settings).resources:
        params = inspect.signature(GCP.sdk_class(r.type)._internal_init).parameters
        for key in r.inputs:
            assert snake(key) in params, (r.type, key)


def by_type(records: list[dict[str, Any]], token: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == token]


@pytest.mark.parametrize("token, settings", [(NETWORK, CREATED), (SUBNETWORK, CREATED),
                                             (FIREWALL, CREATED), (FIREWALL, ACCOUNTS)])
def test_registered_resources_equal_the_plan(token, settings):
    plan = json.loads(json.dumps(checked_plan(GCP, INTENT, settings).to_json()))
    registered = registered_plan(INTENT, GCP, settings)
    assert by_type(plan["resources"], token)  # the type is in the plan at all
    assert by_type(registered["resources"], token) == by_type(plan["resources"], token)
    assert registered == plan


def stack_config(stack: str) -> tuple[Path, dict[str, Any]]:
    """The spec and gcp settings of a stack file in the `cloudfence:providers` format."""
    config = yaml.safe_load((STACK / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert set(config["cloudfence:providers"]) == {"gcp"}
    return STACK / config["cloudfence:spec"], config["cloudfence:providers"]["gcp"]


@pytest.mark.parametrize("stack, identity", [("gcp", "networkTag"), ("gcp-sa", "serviceAccount")])
def test_gcp_stacks_run_as_pulumi_runs_them_and_export_identities(stack, identity):
    spec, settings = stack_config(stack)
    result = run_stack(STACK, stack)
    plan = checked_plan(GCP, load_intent(spec), settings)
    gcp = {(r.type, r.name): r.inputs for r in result.resources if r.type.startswith("gcp:")}
    assert gcp == {(r.type, r.name): json.loads(json.dumps(r.inputs, sort_keys=True)) for r in plan.resources}
    exports = result.outputs["segments"]
    assert exports == json.loads(json.dumps(plan.exports))
    gateway = exports["gateway"]
    if identity == "networkTag":
        assert gateway["networkTag"] == "ai-inference-gateway"
        assert gateway["subnetwork"] == "${ai-inference-gateway.id}"
    else:
        assert gateway["serviceAccount"] == "gateway@ai-inference-prod.iam.gserviceaccount.com"
        assert "subnetwork" not in gateway


@pytest.mark.parametrize("stack", ["gcp", "gcp-sa"])
def test_gcp_stacks_verify(stack):
    out = subprocess.run([sys.executable, "-m", "cloudfence.cli", "verify", "--stack",
                          str(STACK / f"Pulumi.{stack}.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "gcp: equivalent" in out.stdout


def test_registered_through_the_entry_point():
    assert isinstance(get_provider("gcp"), GcpProvider)


def test_importing_the_provider_loads_no_pulumi():
    code = ("import sys, cloudfence.providers.gcp.plugin; "
            "from cloudfence.intent import load_intent; from cloudfence.provider import checked_plan; "
            "from cloudfence.providers.gcp.provider import GcpProvider; "
            f"checked_plan(GcpProvider(), load_intent({str(EXAMPLE)!r}), {{'region': 'us-central1'}}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_gcp')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
