"""The conformance kit (cloudfence.testing) run over every installed built-in
provider and the fakecloud test plugin, a golden plan per corpus case, and proof
that the kit fails providers that break each part of the contract."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import cloudfence.testing
from cloudfence.intent import parse_intent
from cloudfence.plugins import providers
from cloudfence.provider import Provider
from cloudfence.testing import Conformance, ConformanceFailure, case_text, cases
from cloudfence.testing.mutate import mutants
from tests import conformance_broken as broken
from tests.fakeplugin import fake_providers
from tests.goldens import assert_golden

GOLDEN = Path(__file__).parent / "golden"
# The corpus's segments live in 10.30.0.0/16; its IPv6 segments in 2600:1f18:aa:bb00::/56.
VPC_V6 = {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": ["10.30.0.0/16", "2600:1f18:aa:bb00::/56"]}
SERVICE_RANGE = "10.96.0.0/12"


#: What the endpoints resolve from where a target needs settings for them (cases that name them).
S3_PREFIX_LIST = {"objectStoragePrefixList": "pl-63a5400a"}  # with an existing VPC
S3_REGION = {"region": "us-east-1"}  # the VPC cloudfence creates: its S3 gateway endpoint's region
OBJECT_STORE = {"objectStorageCidrs": ["199.36.153.8/30"]}
NODES = {"nodeCidrs": ["10.31.0.0/20"]}
#: The ingress-controller case: its controller's pods, in the namespace of a segment.
CONTROLLERS = {"ingressControllers": [{"namespace": "ingress-nginx",
                                       "labels": {"app.kubernetes.io/name": "ingress-nginx"}}]}


def _when(case: str, endpoint: str, settings: Mapping[str, Any]) -> Mapping[str, Any]:
    return settings if f"'{endpoint}'" in case_text(case) else {}


def aws_settings(case: str) -> Mapping[str, Any]:
    """The VPC cloudfence creates, except where the case has IPv6 segments: a created
    VPC is IPv4 only, so those attach to an existing dual-stack VPC."""
    text = case_text(case)
    vpc = VPC_V6 if "2600:" in text else {"vpcCidr": "10.30.0.0/16"}
    storage = S3_PREFIX_LIST if "vpcId" in vpc else S3_REGION
    return {**vpc, **_when(case, "@object-storage", storage)}


def kubernetes_settings(case: str) -> Mapping[str, Any]:
    """The cluster's ranges: its pod segments' cidrs and a service range, so that a
    segment outside the cluster keeps its own addresses."""
    intent = parse_intent(case_text(case))
    pods = [str(c) for s in intent.segments.values() if s.kubernetes for c in s.cidrs]
    return {"clusterCidrs": [*pods, SERVICE_RANGE], **_when(case, "@object-storage", OBJECT_STORE),
            **_when(case, "@load-balancer", NODES), **(CONTROLLERS if case == "ingress-controller" else {})}


INTERNAL = ["10.30.0.0/16", "2600:1f18:aa:bb00::/56"]  # the corpus's internal space


def azure_settings(case: str) -> Mapping[str, Any]:
    """An existing virtual network of the corpus's internal space: its subnets cannot
    hold every case's cidrs, and segments without one need the space known."""
    return {"resourceGroupName": "rg-conformance", "location": "westeurope",
            "virtualNetworkName": "vnet-conformance", "addressSpace": INTERNAL}


def gcp_settings(case: str) -> Mapping[str, Any]:
    """An existing network whose subnetworks span the corpus's internal space."""
    return {"network": "conformance", "subnetworkCidrs": INTERNAL}


def gcp_account_settings(case: str) -> Mapping[str, Any]:
    """The same network, each segment a service account instead of a network tag."""
    segments = parse_intent(case_text(case)).segments
    return {**gcp_settings(case), "identity": "serviceAccount",
            "serviceAccounts": {s: f"{s}@conformance.iam.gserviceaccount.com" for s in segments}}


SETTINGS = {"aws": aws_settings, "azure": azure_settings, "gcp": gcp_settings,
            "kubernetes": kubernetes_settings}
# A provider run a second time under other settings: name -> (provider, settings).
VARIANTS = {"gcp-service-accounts": ("gcp", gcp_account_settings)}


def builtin() -> dict[str, Provider]:
    return {n: p for n, p in providers().items() if type(p).__module__.startswith("cloudfence.providers.")}


def _kits() -> dict[str, Conformance]:
    found: dict[str, Any] = {**builtin(), "fakecloud": fake_providers()["fakecloud"]}
    kits = {n: Conformance(p, SETTINGS.get(n, lambda case: {})) for n, p in sorted(found.items())}
    for name, (provider, settings_for) in VARIANTS.items():
        if provider in found:
            kits[name] = Conformance(found[provider], settings_for)
    return kits


KITS = _kits()
CHECKS = [(name, check) for name, kit in KITS.items() for check in kit.checks()]


def test_the_built_in_providers_are_all_covered():
    assert {"aws", "azure", "gcp", "gcp-service-accounts", "kubernetes", "fakecloud"} <= set(KITS)


@pytest.mark.parametrize(("name", "check"), CHECKS, ids=[str(c) for _, c in CHECKS])
def test_conformance(name: str, check: cloudfence.testing.Check) -> None:
    check.run()


@pytest.mark.parametrize("name", sorted(set(KITS) - {"fakecloud"}))
@pytest.mark.parametrize("case", cases())
def test_golden_plan(name: str, case: str) -> None:
    path = GOLDEN / name / "corpus" / f"{case}.json"
    assert_golden(path, KITS[name].golden(case), "tests/test_conformance.py")


# ------------------------------------------------------------ the corpus


def test_the_corpus_ships_in_the_package():
    assert 10 <= len(cases()) <= 20
    for name in ("ipv6", "exclusions", "any-protocol", "icmp", "self-flow", "lists-both-sides",
                 "cross-namespace", "port-ranges", "platform-endpoint", "object-storage", "load-balancer",
                 "load-balancer-listener", "ingress-controller",
                 "instance-metadata"):
        assert name in cases()
    for case in cases():
        assert parse_intent(case_text(case)).name == case  # valid, and named for its feature
    with pytest.raises(KeyError, match="no corpus case"):
        case_text("nosuch")


def test_every_provider_compiles_most_of_the_corpus():
    """A kit that only ever sees refusals proves nothing. Each platform endpoint case is
    refused, naming the endpoint, by a target that does not resolve it."""
    endpoint_cases = {"platform-endpoint", "object-storage", "load-balancer", "load-balancer-listener",
                      "ingress-controller",
                      "instance-metadata"}
    for name, kit in KITS.items():
        compiled = [c for c in cases() if kit.outcome(c).plan is not None]
        assert len(set(compiled) | endpoint_cases) >= len(cases()) - 2, (name, compiled)


def test_the_kit_counts_each_kind_of_mutant_and_discards_harmless_ones():
    kit = KITS["fakecloud"]
    # a port widened at one end only: the other end still refuses it
    assert kit.mutations("single-port").discarded
    report = kit.mutations("exclusions")
    for kind in ("drop ", "widen-cidr ", "widen-ports "):
        assert any(m.startswith(kind) for m in report.counted), kind


# ------------------------------------------------------------ broken providers fail it


def _kit(provider: Provider) -> Conformance:
    return Conformance(provider, max_mutants=10)


def test_a_leaky_provider_fails_soundness():
    kit = _kit(fake_providers()["fakecloud-leaky"])
    with pytest.raises(ConformanceFailure, match=r"NOT equivalent.*extra .*tcp 22"):
        kit.sound("single-port")


def test_a_provider_that_widens_ports_fails_soundness():
    with pytest.raises(ConformanceFailure, match=r"NOT equivalent.*extra .*(8079|8081)"):
        _kit(broken.WideningProvider()).sound("single-port")


def test_an_evaluator_that_echoes_the_spec_fails_the_mutations():
    kit = _kit(broken.EchoProvider())
    kit.sound("single-port")  # it verifies: only the mutations see through it
    with pytest.raises(ConformanceFailure, match="evaluate does not read the records"):
        kit.mutations("single-port")


def test_a_verify_that_misses_a_mutant_fails_the_mutations(monkeypatch: pytest.MonkeyPatch):
    """The kit trusts its own packet check, not verify, to say a mutant matters."""
    kit = _kit(fake_providers()["fakecloud"])
    plan = kit.sound("single-port")
    real = cloudfence.testing.verify_plan

    def blind(intent: Any, provider: Any, mutated: Any) -> Any:
        verdict = real(intent, provider, plan)
        return verdict if mutated is plan else dataclasses.replace(verdict, equivalent=True)

    monkeypatch.setattr(cloudfence.testing, "verify_plan", blind)
    with pytest.raises(ConformanceFailure, match=r"drop .*yet verify says equivalent"):
        kit.mutations("single-port")


def test_a_refusal_that_names_no_place_fails():
    with pytest.raises(ConformanceFailure, match="must name a flow"):
        _kit(broken.VagueProvider()).sound("single-port")


def test_an_exception_fails():
    with pytest.raises(ConformanceFailure, match="raised RuntimeError"):
        _kit(broken.CrashingProvider()).sound("single-port")


def test_a_plan_that_depends_on_the_hash_seed_fails():
    with pytest.raises(ConformanceFailure, match="PYTHONHASHSEED"):
        _kit(broken.HashOrderProvider()).deterministic(["single-port"])


def test_a_name_that_depends_on_every_flow_fails():
    with pytest.raises(ConformanceFailure, match=r"bundle.*which names none of its ends"):
        _kit(broken.BundleProvider()).stable_names("single-port")


def test_run_all_reports_instead_of_raising():
    failures = _kit(fake_providers()["fakecloud-leaky"]).run_all(["single-port", "self-flow"])
    assert failures
    assert all(f.startswith(("fakecloud-leaky on corpus case", "fakecloud-leaky:")) for f in failures)


def test_deep_mode_tries_every_mutant(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(cloudfence.testing.DEEP_ENV, "1")
    kit = Conformance(fake_providers()["fakecloud"])
    assert kit.deep and kit.max_mutants == 0
    plan = kit.outcome("internet").plan
    assert plan is not None
    assert len(list(mutants(plan, deep=True))) > len(list(mutants(plan)))


@pytest.mark.skipif(not os.environ.get(cloudfence.testing.DEEP_ENV), reason="deep run only")
def test_deep_mutations_on_every_case():
    for kit in KITS.values():
        deep = Conformance(kit.provider, kit.settings_for, deep=True)
        for case in cases():
            deep.mutations(case)
