"""Platform endpoints as a user meets them: what each target writes for `@name`,
what verify assumes about it, and the refusals that name the endpoint and the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudfence.errors import SpecError
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan
from cloudfence.planfile import plan_from_json
from cloudfence.provider import Provider, checked_plan, find_problems
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify, verify_plan
from tests.fakeplugin import invoke as cli

AWS, AZURE, GCP, K8S = AwsProvider(), AzureProvider(), GcpProvider(), KubernetesProvider()
AZURE_BASE = {"resourceGroupName": "rg", "location": "westeurope"}
GCP_BASE = {"project": "my-project-1", "region": "us-central1"}
K8S_BASE = {"clusterCidrs": ["10.1.0.0/16"]}


def spec(*flows: str) -> str:
    return ("version: 1\nname: ep\nsegments:\n"
            "  gateway: {kubernetes: {namespace: a, labels: {app: gw}}, cidr: 10.1.0.0/24}\n"
            "  inference: {kubernetes: {namespace: a, labels: {app: inf}}, cidr: 10.1.1.0/24}\n"
            "flows:\n" + "".join(f"  - {f}\n" for f in flows))


TO_STORAGE = "{from: inference, to: '@object-storage', ports: [tcp/443]}"
FROM_LB = "{from: '@load-balancer', to: gateway, ports: [tcp/8443]}"


def problems(provider: Provider, text: str, settings: dict[str, Any]) -> list[str]:
    return [str(p) for p in find_problems(provider, parse_intent(text), settings)]


def plan(provider: Provider, text: str, settings: dict[str, Any]) -> Plan:
    return checked_plan(provider, parse_intent(text), settings)


EXISTING_VPC = {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": ["10.1.0.0/16"]}


def test_aws_writes_the_s3_prefix_list_and_verify_states_what_it_assumes():
    text = spec(TO_STORAGE)
    settings = {**EXISTING_VPC, "objectStoragePrefixList": "pl-63a5400a"}
    rules = [r.inputs for r in plan(AWS, text, settings) if r.inputs.get("prefixListId") == "pl-63a5400a"]
    assert [(r["fromPort"], r["toPort"]) for r in rules] == [(443, 443)]
    verdict = verify(parse_intent(text), AWS, settings)
    assert verdict.equivalent
    assert ("'@object-storage' is the AWS-managed S3 prefix list pl-63a5400a, taken to be anywhere "
            "in public space") in verdict.assumptions


def test_aws_without_the_prefix_list_id_or_region_is_refused_naming_the_settings():
    for settings in ({}, EXISTING_VPC):
        (found,) = problems(AWS, spec(TO_STORAGE), settings)
        assert "aws resolves '@object-storage' from settings: give settings.region" in found
        assert "settings.vpcId, settings.objectStoragePrefixList" in found


def test_aws_exports_the_load_balancer_group_and_segments_reference_it():
    compiled = plan(AWS, spec(FROM_LB), {})
    group = compiled.exports["@load-balancer"]["securityGroupId"]
    ingress = [r.inputs for r in compiled if r.inputs.get("referencedSecurityGroupId") == group]
    assert [(i["fromPort"], i["securityGroupId"]) for i in ingress] == [(8443, "${ep-gateway.id}")]
    assert verify(parse_intent(spec(FROM_LB)), AWS, {}).equivalent


def test_azure_writes_the_storage_tag_of_the_setting():
    compiled = plan(AZURE, spec(TO_STORAGE), {**AZURE_BASE, "objectStorageTag": "Storage.WestEurope"})
    prefixes = [rule["destinationAddressPrefix"] for r in compiled
                for rule in r.inputs.get("securityRules", []) if rule.get("destinationAddressPrefix")]
    assert "Storage.WestEurope" in prefixes


def test_azure_refuses_a_tag_that_is_no_storage_tag():
    found = problems(AZURE, spec(TO_STORAGE), {**AZURE_BASE, "objectStorageTag": "Internet"})
    assert any("settings.objectStorageTag" in p and "is not a Storage service tag" in p for p in found)


@pytest.mark.parametrize(("access", "cidr"), [("private", "199.36.153.8/30"),
                                              ("restricted", "199.36.153.4/30")])
def test_gcp_object_storage_is_the_chosen_private_google_access_range(access, cidr):
    compiled = plan(GCP, spec(TO_STORAGE), {**GCP_BASE, "googleApiAccess": access})
    ranges = {c for r in compiled for c in r.inputs.get("destinationRanges", [])}
    assert cidr in ranges


def test_gcp_load_balancer_is_the_health_check_ranges_and_the_proxy_subnet():
    compiled = plan(GCP, spec(FROM_LB), {**GCP_BASE, "proxyOnlyCidrs": ["10.129.0.0/23"]})
    ranges = {c for r in compiled for c in r.inputs.get("sourceRanges", [])}
    assert {"35.191.0.0/16", "130.211.0.0/22", "10.129.0.0/23"} <= ranges


def test_kubernetes_needs_the_addresses_of_each_endpoint():
    found = problems(K8S, spec(TO_STORAGE, FROM_LB), K8S_BASE)
    assert any("give settings.objectStorageCidrs" in p for p in found)
    assert any("give settings.nodeCidrs" in p for p in found)
    settings = {**K8S_BASE, "objectStorageCidrs": ["199.36.153.8/30"], "nodeCidrs": ["10.2.0.0/16"]}
    assert verify(parse_intent(spec(TO_STORAGE, FROM_LB)), K8S, settings).equivalent


@pytest.mark.parametrize(("provider", "settings", "hardening"), [
    (AWS, {}, "IMDSv2"), (GCP, GCP_BASE, "Workload Identity"), (AZURE, AZURE_BASE, "managed identity")])
def test_instance_metadata_is_refused_with_the_hardening_that_works(provider, settings, hardening):
    text = spec("{from: inference, to: '@instance-metadata', ports: [tcp/80]}")
    (found,) = problems(provider, text, settings)
    assert f"{provider.name} cannot filter '@instance-metadata'" in found and hardening in found


def test_no_target_takes_a_flow_into_the_load_balancer_or_out_of_object_storage():
    into = spec("{from: gateway, to: '@load-balancer', ports: [tcp/80]}")
    assert any("'@load-balancer' takes no rules on gcp" in p for p in problems(GCP, into, GCP_BASE))
    out = spec("{from: '@object-storage', to: gateway, ports: [tcp/80]}")
    assert any("'@object-storage' only receives" in p for p in problems(AZURE, out, AZURE_BASE))


def test_azure_verify_reads_only_the_settings_tag_as_object_storage():
    """A plan whose rule names the service-wide Storage tag where the settings say a
    regional one allows more than the flow: verify must not call it equivalent."""
    intent = parse_intent(spec(TO_STORAGE))
    compiled = plan(AZURE, spec(TO_STORAGE), {**AZURE_BASE, "objectStorageTag": "Storage.WestEurope"})
    doc = json.loads(compiled.dumps())
    rules = [rule for r in doc["resources"] for rule in r["inputs"].get("securityRules", [])
             if rule.get("destinationAddressPrefix") == "Storage.WestEurope"]
    assert rules
    for rule in rules:
        rule["destinationAddressPrefix"] = "Storage"
    widened = plan_from_json(doc, intent, "azure")
    assert not verify_plan(intent, AZURE, widened).equivalent


def test_aws_verify_checks_the_load_balancer_export():
    """The export is what the user's load balancer attaches: pointing it at a segment's
    group would make the load balancer a member of that segment, with its openings."""
    intent = parse_intent(spec(FROM_LB, "{from: gateway, to: inference, ports: [tcp/8000]}"))
    doc = json.loads(plan(AWS, spec(FROM_LB, "{from: gateway, to: inference, ports: [tcp/8000]}"),
                          {}).dumps())
    assert verify_plan(intent, AWS, plan_from_json(doc, intent, "aws")).equivalent
    doc["exports"]["@load-balancer"]["securityGroupId"] = doc["exports"]["gateway"]["securityGroupId"]
    verdict = verify_plan(intent, AWS, plan_from_json(doc, intent, "aws"))
    assert not verdict.equivalent
    assert [(c.kind, c.source) for c in verdict.counterexamples] == [("export", "@load-balancer")]


def test_aws_load_balancer_is_in_the_vpc_compile_derives():
    """Without vpcCidr the VPC is the /16 compile derives: the network ACLs admit the
    load balancer from it, and verify places the load balancer there too and says so."""
    verdict = verify(parse_intent(spec(FROM_LB)), AWS, {"nacls": True})
    assert verdict.equivalent, verdict.counterexamples
    assert ("'@load-balancer' is the security group cloudfence creates (exports['@load-balancer']), "
            "taken to be anywhere in 10.1.0.0/16") in verdict.assumptions


def test_aws_verify_says_who_may_attach_the_load_balancer_group():
    verdict = verify(parse_intent(spec(FROM_LB)), AWS, {})
    assert any("only load balancers attach the group exports['@load-balancer']" in a
               for a in verdict.assumptions)
    assert not any("exports['@load-balancer']" in a and "only load balancers" in a
                   for a in verify(parse_intent(spec(TO_STORAGE)), AWS,
                                   {"region": "us-east-1"}).assumptions)


def test_kubernetes_networks_leave_the_metadata_service_out():
    """Metadata is credentials: a network over it does not open it, only a flow to
    `@instance-metadata` does, and a plan whose ipBlock drops that except is caught."""
    text = ("version: 1\nname: ep\nsegments:\n"
            "  gateway: {kubernetes: {namespace: a, labels: {app: gw}}, cidr: 10.1.0.0/24}\n"
            "networks:\n  everything: [0.0.0.0/0]\n"
            "flows:\n  - {from: gateway, to: everything, ports: [tcp/80]}\n")
    intent = parse_intent(text)
    doc = json.loads(plan(K8S, text, K8S_BASE).dumps())
    (policy,) = doc["resources"]
    blocks = [p["ipBlock"] for rule in policy["inputs"]["spec"]["egress"] for p in rule["to"]
              if "ipBlock" in p]
    assert blocks == [{"cidr": "0.0.0.0/0", "except": ["10.1.0.0/16", "169.254.169.254/32"]}]
    assert verify_plan(intent, K8S, plan_from_json(doc, intent, "kubernetes")).equivalent
    blocks[0]["except"] = ["10.1.0.0/16"]
    verdict = verify_plan(intent, K8S, plan_from_json(doc, intent, "kubernetes"))
    assert [(c.kind, c.destination) for c in verdict.counterexamples] == \
        [("extra", "unnamed address (169.254.169.254)")]


def test_kubernetes_a_network_of_the_metadata_address_points_to_the_endpoint():
    text = ("version: 1\nname: ep\nsegments:\n"
            "  gateway: {kubernetes: {namespace: a, labels: {app: gw}}, cidr: 10.1.0.0/24}\n"
            "networks:\n  imds: [169.254.169.254/32]\n"
            "flows:\n  - {from: gateway, to: imds, ports: [tcp/80]}\n")
    (found,) = problems(K8S, text, K8S_BASE)
    assert "write the flow to '@instance-metadata'" in found


def test_gcp_refuses_a_proxy_only_subnetwork_over_a_segment():
    """Read as the load balancer's proxies, that range would be dropped from
    `@load-balancer` (segments are carved out) or pass members off as proxies."""
    found = problems(GCP, spec(FROM_LB), {**GCP_BASE, "proxyOnlyCidrs": ["10.1.0.0/23"]})
    assert any(p.startswith("settings.proxyOnlyCidrs[0]") and "overlaps 10.1.0.0/24 of segment 'gateway'" in p
               for p in found), found


# ------------------------------------------------- flows into the load balancer

LISTENER = "{from: internet, to: '@load-balancer', ports: [tcp/443]}"
FROM_CLIENTS = "{from: inference, to: '@load-balancer', ports: [tcp/443]}"


def test_the_spec_takes_a_network_into_the_load_balancer_and_nothing_else_without_a_segment():
    assert [str(f) for f in parse_intent(spec(LISTENER)).flows] == ["internet -> @load-balancer tcp/443"]
    for src, dst in (("internet", "'@object-storage'"), ("'@cluster-dns'", "'@load-balancer'"),
                     ("'@load-balancer'", "internet")):
        with pytest.raises(SpecError, match=r"flows\[0\]: flow between .* neither a segment"):
            parse_intent(spec(f"{{from: {src}, to: {dst}, ports: [tcp/443]}}"))


def test_aws_writes_the_listener_on_the_load_balancer_group_and_verify_judges_it():
    text = spec(LISTENER, FROM_CLIENTS, FROM_LB)
    compiled = plan(AWS, text, {})
    group = compiled.exports["@load-balancer"]["securityGroupId"]
    listener = sorted((r.inputs.get("cidrIpv6") or r.inputs.get("prefixListId") or
                       r.inputs.get("referencedSecurityGroupId"), r.inputs["fromPort"], r.inputs["toPort"])
                      for r in compiled if r.type.endswith("SecurityGroupIngressRule")
                      and r.inputs["securityGroupId"] == group)
    assert listener == [("${ep-inference.id}", 443, 443), ("${ep-internet-ipv4.id}", 443, 443),
                        ("2000::/3", 443, 443)]
    # inference sends to the load balancer by reference; the listener is judged, not skipped
    assert any(r.inputs.get("referencedSecurityGroupId") == group and r.inputs["securityGroupId"] ==
               "${ep-inference.id}" for r in compiled)
    verdict = verify(parse_intent(text), AWS, {})
    assert verdict.equivalent and verdict.not_governed == ()


@pytest.mark.parametrize(("provider", "settings"), [
    (AZURE, AZURE_BASE), (GCP, GCP_BASE), (K8S, {**K8S_BASE, "nodeCidrs": ["10.9.0.0/16"]})])
@pytest.mark.parametrize("flow", [LISTENER, FROM_CLIENTS])
def test_every_other_target_refuses_a_flow_into_the_load_balancer_naming_it(provider, settings, flow):
    found = problems(provider, spec(FROM_LB, flow), settings)
    refused = [p for p in found if "'@load-balancer' takes no rules" in p]
    assert refused == [p for p in found if "flows[1]" in p]
    (refusal,) = [p for p in found if "flows[1]" in p]
    assert f"'@load-balancer' takes no rules on {provider.name}: its load balancers have no filter" in refusal
    assert "`@load-balancer -> <segment>` for what the load balancer delivers" in refusal


def test_the_cli_exits_2_for_a_target_that_refuses_the_listener(tmp_path):
    path = tmp_path / "ep.yaml"
    path.write_text(spec(LISTENER, FROM_LB))
    code, out, _ = cli("plan", path, "--provider", "gcp", "--set", "project=my-project-1",
                       "--set", "region=us-central1")
    assert code == 2
    code, out, _ = cli("verify", path, "--provider", "aws")
    assert code == 0 and out.startswith("aws: equivalent")
    path.write_text(spec("{from: internet, to: '@object-storage', ports: [tcp/443]}"))
    code, _, err = cli("validate", path)
    assert code == 2 and "neither a segment" in err


def test_aws_refuses_a_network_into_the_listener_that_may_hold_a_segment_without_a_cidr():
    """The listener admits corp-vpn's addresses; while the VPC's CIDRs are unknown, app
    (no cidr) may be there and its egress to corp-vpn would reach the load balancer."""
    text = ("version: 1\nname: ep\nsegments:\n  app: {}\n  gateway: {cidr: 10.1.0.0/24}\n"
            "networks:\n  corp-vpn: [10.200.0.0/16]\nflows:\n"
            "  - {from: corp-vpn, to: '@load-balancer', ports: [tcp/443]}\n"
            "  - {from: app, to: corp-vpn, ports: [tcp/443]}\n")
    (found,) = problems(AWS, text, {"vpcId": "vpc-0abc1234def567890"})
    assert found.startswith("<spec>:10: flows[1] (app -> corp-vpn): with flows[0] (corp-vpn -> "
                            "@load-balancer), 'app' could reach '@load-balancer' on tcp/443 through "
                            "'corp-vpn'")
    assert "give 'app' a cidr, set settings.vpcCidrs" in found
    assert verify(parse_intent(text), AWS, {}).equivalent  # the VPC cloudfence creates: known


def test_kubernetes_object_storage_as_public_space():
    """`objectStorageCidrs: [internet]`: the store at its public addresses (EKS through an
    S3 gateway endpoint), written as the public ipBlocks, never the pods' or metadata's."""
    from cloudfence.intent import parse_intent
    from cloudfence.plugins import get_provider
    from cloudfence.provider import checked_plan, find_problems
    from cloudfence.verify import verify_plan

    k8s = get_provider("kubernetes")
    intent = parse_intent("version: 1\nname: t\nsegments:\n"
                          "  app: {kubernetes: {namespace: ml, labels: {app: x}}}\nflows:\n"
                          "  - {from: app, to: '@object-storage', ports: [tcp/443]}\n")
    settings = {"clusterCidrs": ["10.244.0.0/16"], "objectStorageCidrs": ["internet"]}
    plan = checked_plan(k8s, intent, settings)
    (policy,) = [r for r in plan.resources if r.name.endswith("-app")]
    rule, _dns = policy.inputs["spec"]["egress"]  # and the cluster DNS every pod segment gets
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    blocks = [p["ipBlock"] for p in rule["to"]]
    assert blocks[0]["cidr"] == "0.0.0.0/0" and "169.254.0.0/16" in blocks[0]["except"]
    assert "10.0.0.0/8" in blocks[0]["except"] and {"cidr": "2000::/3"} in blocks
    assert verify_plan(intent, k8s, plan).equivalent
    (bad,) = [str(p) for p in find_problems(k8s, intent, {**settings, "objectStorageCidrs": ["intrnet"]})]
    assert "settings.objectStorageCidrs.0" in bad and "'internet' (public space)" in bad


_K8S_LB = ("version: 1\nname: t\nsegments:\n"
           "  web: {kubernetes: {namespace: serving, labels: {app: web}}}\nflows:\n"
           "  - {from: '@load-balancer', to: web, ports: [tcp/8080]}\n"
           "  - {from: web, to: '@object-storage', ports: [tcp/443]}\n")


@pytest.mark.parametrize("settings, where, says", [
    ({"ingressControllers": [{"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}]},
     "settings.ingressControllers.0", "may be the cluster DNS pods"),
    ({"ingressControllers": [{"namespace": "serving", "labels": {"app": "web", "component": "ctl"}}]},
     "settings.ingressControllers.0", "they are the segment's pods too: give the controller labels that "
                                      "leave out one of the segment's"),
    ({"ingressControllers": [{"namespace": "serving", "labels": {}}], "nodeCidrs": ["10.0.0.0/24"]},
     "settings.ingressControllers.0", ""),
    ({"nodeCidrs": ["0.0.0.0/0"]}, "settings.nodeCidrs.0", "holds the instance metadata address "
                                                            "169.254.169.254/32 (credentials)"),
    ({"nodeCidrs": ["10.0.0.0/24"], "objectStorageCidrs": ["fd00::/8"]}, "settings.objectStorageCidrs.0",
     "holds the instance metadata address fd00:ec2::254/128"),
])
def test_kubernetes_endpoint_settings_that_would_widen_are_refused(settings, where, says):
    from cloudfence.intent import parse_intent
    from cloudfence.plugins import get_provider
    from cloudfence.provider import find_problems

    base = {"clusterCidrs": ["10.244.0.0/16"], "objectStorageCidrs": ["internet"]}
    found = [str(p) for p in find_problems(get_provider("kubernetes"), parse_intent(_K8S_LB),
                                           {**base, **settings})]
    assert any(p.startswith(where) and says in p for p in found), found
