"""Kubernetes provider: what the plan says (golden file, the example's
required policy, mapping rules) and what check refuses."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest
import yaml

from cloudfence import hookspecs
from cloudfence.errors import CheckError, SpecError
from cloudfence.intent import Endpoint, load_intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.plugins import collect
from cloudfence.ports import parse_port
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes import plugin
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.reach import Peer
from cloudfence.settings import describe
from cloudfence.verify import verify, verify_plan
from tests.goldens import assert_golden

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
GOLDEN = ROOT / "tests" / "golden" / "kubernetes" / "ai-inference.json"
# The example's settings as its stack file gives them (clusterCidrs among them).
STACK = yaml.safe_load((ROOT / "stacks" / "ai-inference" / "Pulumi.kubernetes.yaml").read_text())
STACK_SETTINGS = STACK["config"]["cloudfence:providers"]["kubernetes"]
TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S = KubernetesProvider()
KUBE_DNS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}


def spec(segments: str, flows: str = "", extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows or '  []'}\n"


BASE = """\
  web: {kubernetes: {namespace: serving, labels: {app: web}}, cidr: 10.1.0.0/24}
  api: {kubernetes: {namespace: serving, labels: {app: api}}}
  db: {kubernetes: {namespace: data, labels: {app: db}}}
  vm: {cidr: [10.9.0.0/24, 'fd00:9::/64']}
  bare: {description: no pods and no addresses}
"""


def compile_text(text: str, **settings) -> Plan:
    return checked_plan(K8S, parse_intent(text), settings)


def policy_spec(plan: Plan, segment: str) -> dict:
    return plan.get(f"{plan.spec}-{segment}").inputs["spec"]


def problems(text: str, **settings) -> list[str]:
    return [str(p) for p in find_problems(K8S, parse_intent(text, "segments.yaml"), settings)]


# ------------------------------------------------------------ the example


def test_example_plan_matches_golden_file():
    plan = checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS)
    text = json.dumps(plan.to_json(), indent=2) + "\n"
    assert_golden(GOLDEN, text, "tests/test_kubernetes_compile.py")


def test_example_model_servers_accept_port_80_only_from_the_frontend():
    plan = checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS)
    spec_ = policy_spec(plan, "inference")
    assert spec_["podSelector"] == {"matchLabels": {"app": "ai-inference"}}
    assert spec_["policyTypes"] == ["Ingress", "Egress"]
    port80 = [r for r in spec_["ingress"] if any(p.get("port") == 80 for p in r.get("ports", []))]
    assert port80 == [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                       "ports": [{"protocol": "TCP", "port": 80}]}]
    assert all("ports" in r for r in spec_["ingress"]), "no ingress rule may leave ports open"
    to_5432 = [r for r in spec_["egress"] if any(p.get("port") == 5432 for p in r.get("ports", []))]
    assert to_5432 == [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}},
                                "podSelector": {"matchLabels": {"role": "database"}}}],
                        "ports": [{"protocol": "TCP", "port": 5432}]}]


def test_example_required_policy_holds_under_evaluation():
    intent = load_intent(EXAMPLE)
    reach = K8S.evaluate(checked_plan(K8S, intent, STACK_SETTINGS), intent)

    def who(segment: str, direction: str, proto: str, port: int) -> set[str]:
        out: set[str] = set()
        for peer, ports in reach.rules(segment, direction):
            if port in ports.get(proto):
                assert not peer.everything and not peer.addresses
                out |= peer.segments | peer.others
        return out

    assert who("inference", "ingress", "tcp", 80) == {"gateway"}
    assert who("inference", "ingress", "udp", 80) == set()
    assert who("inference", "egress", "tcp", 5432) == {"feature-db"}
    assert who("gateway", "egress", "tcp", 5432) == set()
    # feature-db's own side agrees: only the model servers may open 5432.
    assert who("feature-db", "ingress", "tcp", 5432) == {"inference"}


def test_example_verifies_equivalent_and_names_what_the_cluster_does_not_judge():
    verdict = verify(load_intent(EXAMPLE), K8S, STACK_SETTINGS)
    assert verdict.equivalent, verdict.counterexamples
    assert verdict.governed == {"gateway", "inference", "feature-db", "monitoring"}
    assert verdict.not_governed == ("corp-vpn -> vector-db tcp/6333-6334",)
    assert "inference -> @cluster-dns tcp/53 udp/53" in verdict.implied


@pytest.mark.parametrize("settings", [{"dns": False}, {"defaultDenyNamespaces": False},
                                      {"dns": False, "defaultDenyNamespaces": False},
                                      {"cni": "calico"}, {"cni": "cilium"}])
def test_example_verifies_equivalent_with_every_setting(settings):
    assert verify(load_intent(EXAMPLE), K8S, {**STACK_SETTINGS, **settings}).equivalent


@pytest.mark.parametrize("selector", ["namespaceSelector", "podSelector"])
def test_the_example_with_a_peer_asking_for_another_label_is_not_equivalent(selector):
    """`env: prod` on feature-db's peers: the example's namespaces and pods surely carry
    only their name and their segment's labels, so the peers may admit none of them."""
    intent = load_intent(EXAMPLE)
    plan = checked_plan(K8S, intent, STACK_SETTINGS)
    policy = plan.get(f"{plan.spec}-feature-db")
    inputs = json.loads(json.dumps(policy.inputs))
    for rule in inputs["spec"]["ingress"]:
        for peer in rule["from"]:
            peer[selector]["matchLabels"]["env"] = "prod"
    edited = dataclasses.replace(plan, resources=tuple(
        r if r is not policy else Resource(r.type, r.name, inputs) for r in plan))
    verdict = verify_plan(intent, K8S, edited)
    assert {(c.kind, c.source, c.destination) for c in verdict.counterexamples} == {
        ("unsure", "inference", "feature-db"), ("unsure", "monitoring", "feature-db")}


def test_example_exports_what_a_workload_attaches():
    plan = checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS)
    assert plan.exports["inference"] == {"namespace": "serving", "podLabels": {"app": "ai-inference"},
                                         "networkPolicy": "ai-inference-inference"}
    assert set(plan.exports) == {"gateway", "inference", "feature-db", "monitoring"}


def test_plan_bytes_do_not_depend_on_spec_order():
    text = EXAMPLE.read_text()
    head, flows = text.split("flows:\n")
    items = ["  - " + f for f in flows.split("  - ") if f.strip()]
    reordered = head + "flows:\n" + "".join(reversed(items))
    a = checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS).dumps()
    b = compile_text(reordered, **STACK_SETTINGS).dumps()
    assert a == b == checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS).dumps()



def test_rules_and_peers_are_in_the_order_of_their_sorted_json():
    """The documented order of stable bytes: each policy's rules by their JSON with sorted
    keys, and each rule's peers the same way."""
    plan = checked_plan(K8S, load_intent(EXAMPLE), STACK_SETTINGS)

    def key(value: object) -> str:
        return json.dumps(value, sort_keys=True)

    seen = 0
    for record in plan.resources:
        if record.type != TYPE:
            continue
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            rules = record.inputs["spec"].get(direction) or []
            assert rules == sorted(rules, key=key), (record.name, direction)
            for rule in rules:
                assert rule[peers] == sorted(rule[peers], key=key)
                seen += len(rule[peers]) > 1 and "ports" in rule
    assert seen, "the example has rules with ports and several peers"


# ------------------------------------------------------------ mapping


def test_every_pod_segment_gets_one_policy_isolating_both_ways():
    plan = compile_text(spec(BASE))
    assert [r.name for r in plan] == ["t-api", "t-db", "t-web"]
    for record in plan:
        assert record.type == TYPE
        seg = record.name.removeprefix("t-")
        assert record.inputs["metadata"] == {
            "name": record.name, "namespace": "data" if seg == "db" else "serving",
            "labels": {"app.kubernetes.io/managed-by": "cloudfence", "cloudfence.io/spec": "t",
                       "cloudfence.io/segment": seg}}
        assert record.inputs["apiVersion"] == "networking.k8s.io/v1"
        assert record.inputs["kind"] == "NetworkPolicy"
        assert record.inputs["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert record.inputs["spec"]["ingress"] == []  # no flows in: nothing allowed in
        assert record.inputs["spec"]["egress"] == [{"to": [KUBE_DNS], "ports": [
            {"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}]}]


def test_dns_is_implied_per_segment_and_can_be_turned_off():
    plan = compile_text(spec(BASE))
    dns = {(f.src, f.dst, f.ports) for f in plan.implied}
    ports = parse_port("udp/53") | parse_port("tcp/53")
    assert dns == {(Endpoint("segment", s), Endpoint("platform", "@cluster-dns"), ports)
                   for s in ("web", "api", "db")}
    off = compile_text(spec(BASE), dns=False)
    assert off.implied == ()
    assert all(policy_spec(off, s)["egress"] == [] for s in ("web", "api", "db"))


def test_user_flow_to_cluster_dns_is_the_kube_dns_peer_merged_with_the_implied_one():
    flows = "  - {from: api, to: '@cluster-dns', ports: [udp/53, udp/5353]}\n"
    plan = compile_text(spec(BASE, flows))
    assert policy_spec(plan, "api")["egress"] == [{"to": [KUBE_DNS], "ports": [
        {"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53},
        {"protocol": "UDP", "port": 5353}]}]
    off = compile_text(spec(BASE, flows), dns=False)
    assert policy_spec(off, "api")["egress"] == [{"to": [KUBE_DNS], "ports": [
        {"protocol": "UDP", "port": 53}, {"protocol": "UDP", "port": 5353}]}]
    assert verify_plan(parse_intent(spec(BASE, flows)), K8S, off).equivalent


def test_peers_by_namespace_and_labels_in_one_peer_and_by_ipblock_outside_the_cluster():
    flows = """\
  - {from: [web, db, vm], to: api, ports: [tcp/8080]}
  - {from: api, to: internet, ports: [tcp/443]}
"""
    plan = compile_text(spec(BASE, flows))
    assert policy_spec(plan, "api")["ingress"] == [{"from": [
        {"ipBlock": {"cidr": "10.9.0.0/24"}},
        {"ipBlock": {"cidr": "fd00:9::/64"}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}},
         "podSelector": {"matchLabels": {"app": "db"}}},
        {"podSelector": {"matchLabels": {"app": "web"}}},
    ], "ports": [{"protocol": "TCP", "port": 8080}]}]
    private = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": private}}, {"ipBlock": {"cidr": "2000::/3"}}],
            "ports": [{"protocol": "TCP", "port": 443}]} in policy_spec(plan, "api")["egress"]


def test_internet_leaves_out_the_cluster_ranges_and_the_egress_ips():
    """Public pod ranges and the cluster's own NAT addresses are never `internet`."""
    flows = "  - {from: api, to: internet, ports: [tcp/443]}\n"
    plan = compile_text(spec(BASE, flows), clusterCidrs=["10.1.0.0/24", "2600:1f18:aa::/56"],
                        egressIps=["203.0.113.5/32"])
    to_internet = [r["to"] for r in policy_spec(plan, "api")["egress"] if r["ports"][0]["port"] == 443]
    assert to_internet == [[
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16",
                                                     "172.16.0.0/12", "192.168.0.0/16", "203.0.113.5/32"]}},
        {"ipBlock": {"cidr": "2000::/3", "except": ["2600:1f18:aa::/56"]}}]]


def test_network_exclusions_become_ipblock_except():
    extra = "networks:\n  partners: {include: [0.0.0.0/0, '2001:db8::/32'], " \
            "exclude: [10.0.0.0/8, 192.168.0.0/16, '2001:db8:1::/48']}\n"
    flows = "  - {from: partners, to: web, ports: [tcp/443]}\n"
    plan = compile_text(spec(BASE, flows, extra), clusterCidrs=["10.1.0.0/24", "10.96.0.0/12"])
    assert policy_spec(plan, "web")["ingress"] == [{"from": [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32", "192.168.0.0/16"]}},
        {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}},
    ], "ports": [{"protocol": "TCP", "port": 443}]}]


@pytest.mark.parametrize(("ports", "wire"), [
    ("[tcp/80]", [{"protocol": "TCP", "port": 80}]),
    ("[tcp/8000-8002, udp/53]", [{"protocol": "TCP", "port": 8000, "endPort": 8002},
                                 {"protocol": "UDP", "port": 53}]),
    ("[sctp/9899]", [{"protocol": "SCTP", "port": 9899}]),
    ("[tcp/80, tcp/443, tcp/81]", [{"protocol": "TCP", "port": 80, "endPort": 81},
                                   {"protocol": "TCP", "port": 443}]),
    ("[tcp/0-65535]", [{"protocol": "TCP"}]),
    ("[tcp/1-65535]", [{"protocol": "TCP", "port": 1, "endPort": 65535}]),
    ("[any]", None),
])
def test_port_sets_in_wire_form(ports, wire):
    plan = compile_text(spec(BASE, f"  - {{from: web, to: api, ports: {ports}}}\n"), dns=False)
    rule = policy_spec(plan, "api")["ingress"][0]
    assert rule.get("ports") == wire
    assert ("ports" in rule) == (wire is not None), "`any` must carry no ports key at all"


def test_flows_with_equal_ports_share_one_rule_and_others_do_not():
    flows = """\
  - {from: web, to: api, ports: [tcp/80]}
  - {from: db, to: api, ports: [tcp/80]}
  - {from: vm, to: api, ports: [tcp/81]}
"""
    ingress = policy_spec(compile_text(spec(BASE, flows)), "api")["ingress"]
    assert len(ingress) == 2
    assert [len(r["from"]) for r in ingress] == [2, 2]  # db+web on 80; vm's two CIDRs on 81


def test_empty_labels_select_every_pod_of_the_namespace():
    segs = ("  all: {kubernetes: {namespace: ops}}\n"
            "  web: {kubernetes: {namespace: serving, labels: {a: b}}}\n")
    plan = compile_text(spec(segs, "  - {from: all, to: web, ports: [tcp/1]}\n"))
    assert policy_spec(plan, "all")["podSelector"] == {}
    assert policy_spec(plan, "web")["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}, "podSelector": {}}]


def test_default_deny_namespaces_adds_one_policy_per_namespace():
    plan = compile_text(spec(BASE), defaultDenyNamespaces=True)
    deny = {r.name: r.inputs for r in plan if "default-deny" in r.name}
    assert set(deny) == {"t-default-deny-data", "t-default-deny-serving"}
    assert deny["t-default-deny-data"] == {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "t-default-deny-data", "namespace": "data",
                     "labels": {"app.kubernetes.io/managed-by": "cloudfence", "cloudfence.io/spec": "t"}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_segments_outside_the_cluster_get_no_policy_and_are_not_governed():
    intent = parse_intent(spec(BASE))
    assert K8S.governs(intent) == {"web", "api", "db"}
    assert {r.name for r in checked_plan(K8S, intent, {})}.isdisjoint({"t-vm", "t-bare"})


# ------------------------------------------------------------ check


def test_icmp_is_refused_naming_the_flow():
    msgs = problems(spec(BASE, "  - {from: web, to: api, ports: [tcp/80, icmp]}\n"))
    assert len(msgs) == 1
    assert "flows[0] (web -> api)" in msgs[0] and "icmp" in msgs[0]
    with pytest.raises(CheckError, match=r"flows\[0\] \(web -> api\)"):
        compile_text(spec(BASE, "  - {from: web, to: api, ports: [icmpv6]}\n"))


def test_icmp_between_segments_outside_the_cluster_is_not_this_providers_business():
    assert problems(spec(BASE, "  - {from: vm, to: bare, ports: [icmp]}\n")) == []


@pytest.mark.parametrize("ports", ["tcp/0", "tcp/0-80", "udp/0-65534"])
def test_port_zero_is_refused_naming_the_flow(ports):
    msgs = problems(spec(BASE, f"  - {{from: [web], to: vm, ports: [tcp/443, {ports}]}}\n"))
    assert len(msgs) == 1
    assert "flows[0] (web -> vm).ports" in msgs[0] and "port 0" in msgs[0] and "1-65535" in msgs[0]


def test_peer_without_pods_or_addresses_is_refused_naming_the_flow_and_fix():
    msgs = problems(spec(BASE, "  - {from: bare, to: api, ports: [tcp/80]}\n"))
    assert len(msgs) == 1
    assert "flows[0] (bare -> api)" in msgs[0] and "'bare'" in msgs[0] and "cidr" in msgs[0]
    assert msgs[0].startswith("segments.yaml:")


@pytest.mark.parametrize("labels", ["{app: web}", "{app: web, tier: x}", "{}"])
def test_overlapping_selectors_in_one_namespace_name_both_segments(labels):
    segs = f"  web: {{kubernetes: {{namespace: serving, labels: {{app: web}}}}}}\n" \
           f"  web2: {{kubernetes: {{namespace: serving, labels: {labels}}}}}\n"
    msgs = problems(spec(segs))
    assert len(msgs) == 1
    assert "'web'" in msgs[0] and "'web2'" in msgs[0] and "serving" in msgs[0]
    assert "label" in msgs[0] and "segments." in msgs[0]


def test_equal_labels_in_different_namespaces_are_fine():
    segs = "  a: {kubernetes: {namespace: one, labels: {app: x}}}\n" \
           "  b: {kubernetes: {namespace: two, labels: {app: x}}}\n"
    assert problems(spec(segs)) == []


def test_a_segment_that_would_select_the_cluster_dns_pods_is_refused():
    segs = "  sys: {kubernetes: {namespace: kube-system}}\n"
    assert any("cluster DNS" in m for m in problems(spec(segs)))


@pytest.mark.parametrize(("settings", "key"), [
    ({"dns": "yes"}, "settings.dns"),
    ({"defaultDenyNamespaces": 1}, "settings.defaultDenyNamespaces"),
    ({"dnss": True}, "settings.dnss"),
])
def test_bad_settings_name_the_key(settings, key):
    msgs = problems(spec(BASE), **settings)
    assert len(msgs) == 1 and msgs[0].startswith(key)
    with pytest.raises(CheckError, match=key):
        compile_text(spec(BASE), **settings)


def test_default_deny_name_clash_is_refused():
    segs = "  default-deny-ops: {kubernetes: {namespace: ops, labels: {a: b}}}\n"
    assert problems(spec(segs)) == []
    assert any("clashes" in m for m in problems(spec(segs), defaultDenyNamespaces=True))


def test_names_that_kubernetes_would_reject_are_refused_by_the_spec():
    # Names become object names and label values, which end alphanumeric.
    segs = "  web-: {kubernetes: {namespace: serving, labels: {app: web}}}\n"
    with pytest.raises(SpecError) as err:
        parse_intent(spec(segs), "segments.yaml")
    assert "segments.web-: invalid segment name 'web-'" in str(err.value)
    assert "(e.g. 'web')" in str(err.value)


def test_unknown_platform_endpoint_is_refused():
    msgs = problems(spec(BASE, "  - {from: api, to: '@metadata', ports: [tcp/80]}\n"))
    assert any("@metadata" in m and "@cluster-dns" in m for m in msgs)


# ------------------------------------------------------------ plugin and SDK


def test_capabilities():
    caps = K8S.capabilities
    assert caps.protocols == {"tcp", "udp", "sctp"}
    assert caps.ipv6 and not caps.icmp_types and not caps.segments_need_addresses
    assert caps.governs == "segments with a kubernetes mapping"
    assert set(caps.platform_endpoints) == {"@cluster-dns", "@instance-metadata", "@load-balancer",
                                            "@object-storage"}
    assert caps.manifests
    keys = [f["key"] for f in describe(K8S.settings_model)]
    assert keys == ["dns", "defaultDenyNamespaces", "clusterCidrs", "egressIps", "nodeCidrs",
                    "ingressControllers", "objectStorageCidrs", "cni"]


def test_plugin_registers_the_provider():
    pm = pluggy.PluginManager("cloudfence")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    assert isinstance(collect(pm)["kubernetes"], KubernetesProvider)


def test_sdk_class_is_the_pulumi_network_policy():
    from pulumi_kubernetes.networking.v1 import NetworkPolicy

    assert K8S.sdk_class(TYPE) is NetworkPolicy
    with pytest.raises(KeyError):
        K8S.sdk_class("kubernetes:core/v1:Namespace")


@pytest.mark.parametrize("settings", [{}, {"defaultDenyNamespaces": False}])
def test_records_register_through_the_sdk_exactly_as_planned(settings):
    """As the emitter does it: top-level wire names as snake_case keywords, nested dicts as is."""
    from cloudfence.deploy.engine import run_program

    plan = checked_plan(K8S, load_intent(EXAMPLE), {**STACK_SETTINGS, **settings})

    def program() -> None:
        for r in plan:
            K8S.sdk_class(r.type)(r.name, api_version=r.inputs["apiVersion"], kind=r.inputs["kind"],
                                  metadata=r.inputs["metadata"], spec=r.inputs["spec"])

    registered = {r.name: (r.type, r.inputs) for r in run_program(program).resources}
    assert registered == {r.name: (r.type, r.inputs) for r in plan}


def test_provider_modules_import_no_pulumi_package():
    code = ("import sys; import cloudfence.providers.kubernetes.plugin, "
            "cloudfence.providers.kubernetes.manifests; "
            "bad = [m for m in sys.modules if m.startswith('pulumi')]; assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=env)


def test_evaluate_reports_selector_peers_as_segments():
    # Peer.segment is what evaluate reports for a selector peer (not addresses).
    intent = parse_intent(spec(BASE, "  - {from: web, to: api, ports: [tcp/80]}\n"))
    reach = K8S.evaluate(checked_plan(K8S, intent, {}), intent)
    assert (Peer.segment("web"), parse_port("tcp/80")) in reach.rules("api", "ingress")
