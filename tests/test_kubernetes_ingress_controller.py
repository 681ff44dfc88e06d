"""`@load-balancer` as the ingress controller's pods (settings.ingressControllers):
compiled as namespaceSelector AND podSelector, judged in an open world where the
controller's namespace holds other pods too."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify_plan
from tests.fakeplugin import invoke as cli

K8S = KubernetesProvider()
NGINX = {"namespace": "ingress-nginx", "labels": {"app.kubernetes.io/name": "ingress-nginx"}}
SETTINGS = {"clusterCidrs": ["10.244.0.0/16"], "ingressControllers": [NGINX]}
SPEC = """version: 1
name: ic
segments:
  gateway: {kubernetes: {namespace: serving, labels: {app: gw}}}
  inference: {kubernetes: {namespace: serving, labels: {app: inf}}}
flows:
  - {from: '@load-balancer', to: gateway, ports: [tcp/8443]}
  - {from: gateway, to: inference, ports: [tcp/8000]}
"""
CONTROLLER_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}


def compiled(settings: dict[str, Any] = SETTINGS) -> Plan:
    return checked_plan(K8S, parse_intent(SPEC), settings)


def gateway_ingress(plan: Plan) -> list[dict[str, Any]]:
    return plan.get("ic-gateway").inputs["spec"]["ingress"]


def edited(plan: Plan, edit) -> Plan:
    """The plan with the gateway's first ingress peer edited by hand."""
    out = []
    for r in plan:
        if r.name == "ic-gateway":
            inputs = copy.deepcopy(r.inputs)
            edit(inputs["spec"]["ingress"][0]["from"])
            r = Resource(r.type, r.name, inputs)
        out.append(r)
    return dataclasses.replace(plan, resources=tuple(out))


def differences(plan: Plan) -> set[tuple[str, str, str]]:
    verdict = verify_plan(parse_intent(SPEC), K8S, plan)
    return {(c.kind, c.source, c.destination.split(" (")[0]) for c in verdict.counterexamples}


def test_the_controller_pods_are_named_by_namespace_and_pod_selector_and_verify_passes():
    plan = compiled()
    tcp_8443 = [{"protocol": "TCP", "port": 8443}]
    assert gateway_ingress(plan) == [{"from": [CONTROLLER_PEER], "ports": tcp_8443}]
    verdict = verify_plan(parse_intent(SPEC), K8S, plan)
    assert verdict.equivalent, verdict.counterexamples
    assert ("'@load-balancer' is the ingress controller pods {app.kubernetes.io/name=ingress-nginx} "
            "in namespace ingress-nginx (not the namespace's other pods)") in verdict.assumptions


def test_node_cidrs_and_controllers_together_are_both_peers():
    plan = compiled({**SETTINGS, "nodeCidrs": ["10.0.0.0/16"]})
    (rule,) = gateway_ingress(plan)
    assert rule["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}, CONTROLLER_PEER]
    assert verify_plan(parse_intent(SPEC), K8S, plan).equivalent


def test_a_peer_widened_to_the_whole_controller_namespace_admits_its_other_pods():
    found = differences(edited(compiled(), lambda peers: peers[0].pop("podSelector")))
    assert ("extra", "pods without labels in ingress-nginx, of no segment", "gateway") in found


def test_a_peer_moved_to_another_namespace_is_caught_both_ways():
    def move(peers: list[dict[str, Any]]) -> None:
        peers[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] = "default"

    found = differences(edited(compiled(), move))
    assert ("missing", "@load-balancer (ingress controller pods {app.kubernetes.io/name=ingress-nginx} "
            "in ingress-nginx)", "gateway") in found
    assert any(kind == "extra" and "in default" in src for kind, src, _ in found)


def test_a_removed_controller_peer_is_missing():
    plan = compiled()
    without = dataclasses.replace(plan, resources=tuple(
        r if r.name != "ic-gateway" else Resource(r.type, r.name, {**r.inputs, "spec": {
            **r.inputs["spec"], "ingress": []}}) for r in plan))
    assert {kind for kind, _, _ in differences(without)} == {"missing"}


@pytest.mark.parametrize(("controllers", "where", "says"), [
    ([{"namespace": "Ingress_Nginx", "labels": {"app": "x"}}], "settings.ingressControllers.0.namespace",
     "namespace"),
    ([{"namespace": "ingress-nginx", "labels": {}}], "settings.ingressControllers.0.labels",
     "give at least one label"),
    ([{"namespace": "ingress-nginx", "labels": {"app": "bad value!"}}],
     "settings.ingressControllers.0.labels", "label app:"),
    ([{"namespace": "ingress-nginx"}], "settings.ingressControllers.0.labels", "required"),
    ([{"namespace": "ingress-nginx", "labels": {"app": "x"}, "port": 80}],
     "settings.ingressControllers.0.port", "xtra"),
    ("ingress-nginx", "settings.ingressControllers", "list"),
])
def test_bad_controller_settings_name_the_key(controllers, where, says):
    found = find_problems(K8S, parse_intent(SPEC), {"ingressControllers": controllers})
    assert any(p.where == where and says in p.message for p in found), [str(p) for p in found]


def test_a_controller_whose_labels_select_a_segment_is_refused():
    clash = {"ingressControllers": [{"namespace": "serving", "labels": {"app": "gw"}}]}
    found = [str(p) for p in find_problems(K8S, parse_intent(SPEC), clash)]
    assert any(p.startswith("settings.ingressControllers.0:") and "segment 'gateway'" in p for p in found)


def test_without_either_setting_a_flow_from_the_load_balancer_names_both(tmp_path):
    found = [str(p) for p in find_problems(K8S, parse_intent(SPEC), {})]
    assert any("settings.nodeCidrs" in p and "settings.ingressControllers" in p for p in found)
    spec, settings = tmp_path / "s.yaml", tmp_path / "k.yaml"
    spec.write_text(SPEC)
    settings.write_text("ingressControllers: [{namespace: ingress-nginx, labels: {}}]\n")
    code, _, err = cli("plan", spec, "-p", "kubernetes", "--settings", settings)
    assert code == 2 and "settings.ingressControllers.0.labels" in err
    settings.write_text("clusterCidrs: [10.244.0.0/16]\ningressControllers: [{namespace: ingress-nginx, "
                        "labels: {app.kubernetes.io/name: ingress-nginx}}]\n")
    code, out, _ = cli("verify", spec, "-p", "kubernetes", "--settings", settings)
    assert code == 0 and out.startswith("kubernetes: equivalent")


def test_providers_lists_what_the_load_balancer_becomes():
    code, out, _ = cli("providers", "--format", "json")
    assert code == 0
    (k8s,) = [p for p in json.loads(out)["providers"] if p["name"] == "kubernetes"]
    assert "settings.ingressControllers" in k8s["capabilities"]["platformEndpoints"]["@load-balancer"]


LOAD_BALANCER_END = ("@load-balancer (ingress controller pods {app.kubernetes.io/name=ingress-nginx} "
                     "in ingress-nginx)")


def _pod_label(key: str, value: str):
    def edit(peers: list[dict[str, Any]]) -> None:
        peers[0]["podSelector"]["matchLabels"][key] = value
    return edit


def _namespace_label(peers: list[dict[str, Any]]) -> None:
    peers[0]["namespaceSelector"]["matchLabels"]["team"] = "x"


@pytest.mark.parametrize("edit", [
    _pod_label("extra", "x"), _pod_label("app.kubernetes.io/component", "controller"), _namespace_label,
], ids=["pod-label", "component-label", "namespace-label"])
def test_a_peer_narrower_than_the_controller_pods_is_not_equivalent(edit):
    """The controller's pods carry its labels and maybe more, its namespace its name and
    maybe more: a peer that asks for another label may admit none of them."""
    plan = edited(compiled(), edit)
    assert differences(plan) == {("unsure", LOAD_BALANCER_END, "gateway")}
    (found,) = verify_plan(parse_intent(SPEC), K8S, plan).counterexamples
    assert "carry the labels a selector asks for" in found.explanation
    assert (found.protocol, found.port) == ("tcp", 8443)
