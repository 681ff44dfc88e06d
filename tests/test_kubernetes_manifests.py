"""YAML manifests for `kubectl apply -f DIR`, and the official schema check
of every policy the example compiles to."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan
from cloudfence.provider import checked_plan
from cloudfence.providers.kubernetes.manifests import manifests
from cloudfence.providers.kubernetes.provider import KubernetesProvider

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
K8S = KubernetesProvider()
SCHEMA = kubernetes_validate.latest_version()
SETTINGS = [{}, {"dns": False}, {"defaultDenyNamespaces": True}]


# Where the example's pods live, nodes are and the object store is, as its stack file says.
STACK = yaml.safe_load((ROOT / "stacks" / "ai-inference" / "Pulumi.kubernetes.yaml").read_text())
CLUSTER = {key: STACK["config"]["cloudfence:providers"]["kubernetes"][key]
           for key in ("clusterCidrs", "nodeCidrs", "objectStorageCidrs")}


def example_plan(settings: dict | None = None) -> Plan:
    return checked_plan(K8S, load_intent(EXAMPLE), {**CLUSTER, **(settings or {})})


def test_schema_version_is_recent():
    major, minor = (int(x) for x in SCHEMA.split(".")[:2])
    assert (major, minor) >= (1, 30)


@pytest.mark.parametrize("settings", SETTINGS)
def test_every_example_policy_passes_the_official_schema_strictly(settings):
    for record in example_plan(settings):
        kubernetes_validate.validate(record.inputs, SCHEMA, strict=True)


def test_the_schema_check_would_catch_a_misspelt_wire_key():
    record = example_plan().resources[0]
    bad = {**record.inputs, "spec": {**record.inputs["spec"], "podselector": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, SCHEMA, strict=True)


def test_one_file_per_policy_named_by_namespace_and_name():
    files = manifests(example_plan({"defaultDenyNamespaces": True}))
    assert list(files) == [
        "data.ai-inference-default-deny-data.yaml",
        "data.ai-inference-feature-db.yaml",
        "monitoring.ai-inference-default-deny-monitoring.yaml",
        "monitoring.ai-inference-monitoring.yaml",
        "serving.ai-inference-default-deny-serving.yaml",
        "serving.ai-inference-gateway.yaml",
        "serving.ai-inference-inference.yaml",
    ]


def test_file_names_cannot_collide():
    # `<namespace>-<policy>` once gave both of these x-rt-y-rt-z.yaml.
    spec = ("version: 1\nname: rt\nsegments:\n"
            "  y-rt-z: {kubernetes: {namespace: x}}\n  z: {kubernetes: {namespace: x-rt-y}}\n")
    files = manifests(checked_plan(K8S, parse_intent(spec), {}))
    assert sorted(files) == ["x-rt-y.rt-z.yaml", "x.rt-y-rt-z.yaml"]


@pytest.mark.parametrize("settings", SETTINGS)
def test_each_file_is_one_document_equal_to_the_plan_and_valid(settings):
    plan = example_plan(settings)
    files = manifests(plan)
    assert len(files) == len(plan.resources)
    by_name = {r.inputs["metadata"]["name"]: r.inputs for r in plan}
    for text in files.values():
        docs = list(yaml.safe_load_all(text))
        assert len(docs) == 1
        doc = docs[0]
        assert list(doc) == ["apiVersion", "kind", "metadata", "spec"]
        assert doc == by_name[doc["metadata"]["name"]]
        labels = doc["metadata"]["labels"]
        assert (labels["app.kubernetes.io/managed-by"], labels["cloudfence.io/spec"]) == \
            ("cloudfence", "ai-inference")
        kubernetes_validate.validate(doc, SCHEMA, strict=True)


def test_manifest_text_is_readable_and_stable():
    text = manifests(example_plan())["serving.ai-inference-inference.yaml"]
    assert text.startswith("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
                           "  name: ai-inference-inference\n  namespace: serving\n")
    assert "endPort: 6334" in text and "k8s-app: kube-dns" in text
    assert manifests(example_plan()) == manifests(example_plan())


def test_dns_off_removes_the_kube_dns_rule_from_the_files():
    assert all("kube-dns" not in t for t in manifests(example_plan({"dns": False})).values())


def test_the_provider_offers_manifests_and_a_plan_summary_to_the_cli():
    plan = example_plan({"defaultDenyNamespaces": True})
    assert K8S.manifests(plan) == manifests(plan)
    assert K8S.summarize(plan.get("ai-inference-inference")) == \
        "serving: app=ai-inference; isolates ingress+egress; 2 ingress rules, 4 egress rules"
    assert K8S.summarize(plan.get("ai-inference-default-deny-data")) == \
        "data: every pod; isolates ingress+egress; denies all"
