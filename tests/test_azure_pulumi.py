"""Azure provider, Pulumi side: each record type registers through the real
pulumi_azure_native class exactly as planned (mock runtime). azure-native costs
~60 ms per resource under mocks, so the plans here are small."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from cloudfence.deploy.emitter import registered_plan, snake
from cloudfence.intent import parse_intent
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.azure.wire import SDK_CLASSES
from tests.test_azure_compile import BASE, EXAMPLE, ROOT

AZURE = AzureProvider()
# Every record type: the network and one subnet (network mode), ASGs and NSGs with
# ASG, prefix and service-tag rules.
SMALL = parse_intent("""version: 1
name: small
segments:
  web: {cidr: 10.30.1.0/24}
  db: {}
flows:
  - {from: internet, to: web, ports: [tcp/443]}
  - {from: web, to: db, ports: [tcp/5432, icmp, icmpv6]}
""")
SETTINGS = {**BASE, "addressSpace": ["10.30.0.0/16"], "loadBalancerProbes": {"web": ["tcp/8080"]}}


def test_sdk_classes_are_the_azure_native_ones():
    import pulumi_azure_native.network as network

    for token, name in SDK_CLASSES.items():
        cls = AZURE.sdk_class(token)
        assert cls is getattr(network, name)
        assert f"'{token}'" in inspect.getsource(cls), token
    with pytest.raises(KeyError, match="does not emit"):
        AZURE.sdk_class("azure-native:network:SecurityRule")


def test_every_input_is_a_keyword_of_its_sdk_class():
    plan = checked_plan(AZURE, SMALL, SETTINGS)
    assert {r.type for r in plan.resources} == set(SDK_CLASSES)
    for r in plan.resources:
        params = inspect.signature(AZURE.sdk_class(r.type)._internal_init).parameters
        for key in r.inputs:
            assert snake(key) in params, (r.type, key)


@pytest.mark.parametrize("settings", [SETTINGS, {**SETTINGS, "virtualNetworkName": "vnet-small"}])
def test_registered_resources_equal_the_plan(settings):
    plan = checked_plan(AZURE, SMALL, settings)
    assert registered_plan(SMALL, AZURE, settings) == json.loads(json.dumps(plan.to_json()))


def test_registered_through_the_entry_point():
    assert isinstance(get_provider("azure"), AzureProvider)


def test_importing_and_compiling_loads_no_pulumi():
    code = ("import sys, cloudfence.providers.azure.plugin; "
            "from cloudfence.intent import load_intent; "
            "from cloudfence.provider import checked_plan; "
            "from cloudfence.providers.azure.provider import AzureProvider; "
            f"checked_plan(AzureProvider(), load_intent({str(EXAMPLE)!r}), {BASE!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_azure_native')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_azure_stack_config_names_valid_settings_that_verify():
    import yaml

    from cloudfence.verify import verify

    config = yaml.safe_load((ROOT / "stacks" / "ai-inference" / "Pulumi.azure.yaml").read_text())["config"]
    assert set(config["cloudfence:providers"]) == {"azure"}
    settings = config["cloudfence:providers"]["azure"]
    intent = parse_intent((ROOT / "stacks" / "ai-inference" / config["cloudfence:spec"]).read_text())
    assert find_problems(AZURE, intent, settings) == []
    verdict = verify(intent, AZURE, settings)
    # the spec's `@load-balancer -> gateway` flow admits the probes: nothing is implied
    assert verdict.equivalent and verdict.implied == ()
