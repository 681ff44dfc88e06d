"""AWS provider, Pulumi side: the records register through the real pulumi_aws
classes exactly as planned (mock runtime), and the aws stack runs."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cloudfence.deploy.emitter import registered_plan, snake
from cloudfence.deploy.engine import run_stack
from cloudfence.intent import load_intent
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import SDK_CLASSES
from tests.test_aws_compile import AWS_EXAMPLE, EXAMPLE, EXISTING_VPC_S3, VPC_ID

ROOT = Path(__file__).resolve().parents[1]
AWS = AwsProvider()
INTENT = load_intent(EXAMPLE)


def test_sdk_classes_are_the_pulumi_aws_ones():
    import pulumi_aws

    assert AWS.sdk_class("aws:ec2/securityGroup:SecurityGroup") is pulumi_aws.ec2.SecurityGroup
    assert AWS.sdk_class("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") \
        is pulumi_aws.vpc.SecurityGroupIngressRule
    assert AWS.sdk_class("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") \
        is pulumi_aws.vpc.SecurityGroupEgressRule
    assert AWS.sdk_class("aws:ec2/networkAclRule:NetworkAclRule") is pulumi_aws.ec2.NetworkAclRule
    with pytest.raises(KeyError, match="does not emit"):
        AWS.sdk_class("aws:ec2/securityGroupRule:SecurityGroupRule")


def test_every_class_registers_under_its_type_token():
    for token in SDK_CLASSES:
        source = inspect.getsource(AWS.sdk_class(token))
        assert f"'{token}'" in source, token


@pytest.mark.parametrize("settings", [{"nacls": True, "region": "eu-west-1"},
                                      {**EXISTING_VPC_S3, "vpcId": VPC_ID}])
def test_every_input_is_a_keyword_of_its_sdk_class(settings):
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, **settings})
    for r in plan.resources:
        params = inspect.signature(AWS.sdk_class(r.type)._internal_init).parameters
        for key in r.inputs:
            assert snake(key) in params, (r.type, key)


@pytest.mark.parametrize("settings", [{"nacls": True, "region": "eu-west-1"},
                                      {**EXISTING_VPC_S3, "vpcId": VPC_ID}])
def test_registered_resources_equal_the_plan(settings):
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, **settings})
    assert registered_plan(INTENT, AWS, {**AWS_EXAMPLE, **settings}) == json.loads(json.dumps(plan.to_json()))


def test_aws_stack_runs_with_its_config():
    result = run_stack(ROOT / "stacks" / "ai-inference", "aws")
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "vpcCidr": "10.20.0.0/16", "nacls": True})
    aws = {(r.type, r.name): r.inputs for r in result.resources if r.type.startswith("aws:")}
    assert aws == {(r.type, r.name): json.loads(json.dumps(r.inputs, sort_keys=True))
                   for r in plan.resources}
    assert any(r.type.startswith("kubernetes:") for r in result.resources)  # cloudfence:kubernetes
    gateway = result.outputs["segments"]["gateway"]
    assert gateway["securityGroupId"] == "${ai-inference-gateway.id}"
    assert gateway["subnetId"] == "${ai-inference-gateway-10-20-1-0-24.id}"


def test_registered_through_the_entry_point():
    assert isinstance(get_provider("aws"), AwsProvider)


def test_importing_the_provider_loads_no_pulumi():
    code = ("import sys, cloudfence.providers.aws.plugin, cloudfence.providers.aws.provider; "
            "from cloudfence.intent import load_intent; from cloudfence.provider import checked_plan; "
            "from cloudfence.providers.aws.provider import AwsProvider; "
            f"checked_plan(AwsProvider(), load_intent({str(EXAMPLE)!r}), "
            "{'nacls': True, 'region': 'us-east-1'}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert out.stdout.strip() == "[]"
