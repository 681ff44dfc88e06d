"""What the Kubernetes check refuses because of where pods live and what the API
server validates: each problem names the flow, segment or setting and the fix."""

from __future__ import annotations

import dataclasses

import pytest

from cloudfence.errors import CheckError
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.kubernetes.provider import KubernetesProvider

K8S = KubernetesProvider()
SEGMENTS = """\
  web: {kubernetes: {namespace: serving, labels: {app: web}}}
  db: {kubernetes: {namespace: data, labels: {app: db}}, cidr: 10.244.7.0/24}
  vm: {cidr: 10.9.0.0/24}
"""


def spec(flows: str = "", networks: str = "", segments: str = SEGMENTS) -> str:
    return (f"version: 1\nname: t\nsegments:\n{segments}\n"
            f"{'networks:' + chr(10) + networks if networks else ''}\nflows:\n{flows or '  []'}\n")


def problems(text: str, **settings) -> list[str]:
    return [str(p) for p in find_problems(K8S, parse_intent(text, "segments.yaml"), settings)]


def ipblocks(plan: Plan) -> list[dict]:
    return [peer["ipBlock"] for r in plan for key, side in (("ingress", "from"), ("egress", "to"))
            for rule in r.inputs["spec"].get(key, []) for peer in rule[side] if "ipBlock" in peer]


# ------------------------------------------------------------ settings


@pytest.mark.parametrize(("settings", "where", "words"), [
    ({"clusterCidrs": ["10.244.0.0"]}, "settings.clusterCidrs.0:", "prefix length"),
    ({"clusterCidrs": ["10.244.0.1/16"]}, "settings.clusterCidrs.0:",
     "host bits are set, did you mean 10.244.0.0/16?"),
    ({"clusterCidrs": "10.244.0.0/16"}, "settings.clusterCidrs:", "valid list"),
    ({"egressIps": ["203.0.113.5"]}, "settings.egressIps.0:", "prefix length"),
    ({"egressips": ["203.0.113.5/32"]}, "settings.egressips:", "did you mean 'egressIps'"),
    ({"egress": ["203.0.113.5/32"]}, "settings.egress:", "did you mean 'egressIps'"),
    ({"cni": "calio"}, "settings.cni:", "'calico', 'cilium' or 'unknown', got 'calio'"),
    ({"cni": True}, "settings.cni:", "'calico', 'cilium' or 'unknown'"),
])
def test_bad_settings_name_the_key_and_the_form(settings, where, words):
    msgs = problems(spec(), **settings)
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith(where) and words in msgs[0]


def test_settings_are_recorded_in_the_plan_as_validated():
    plan = checked_plan(K8S, parse_intent(spec()), {"clusterCidrs": ["10.244.0.0/16"], "cni": "cilium"})
    assert plan.settings == {"dns": True, "defaultDenyNamespaces": False, "clusterCidrs": ["10.244.0.0/16"],
                             "egressIps": [], "nodeCidrs": [], "objectStorageCidrs": [], "cni": "cilium"}


# ------------------------------------------------------- where pods live

PRIVATE_NET = "  corp: [10.0.0.0/8]\n"


def test_a_private_network_is_refused_while_the_cluster_ranges_are_unknown():
    """Calico's ipBlock matches pods: 10.0.0.0/8 would let any pod in as `corp`."""
    msgs = problems(spec("  - {from: corp, to: web, ports: [tcp/443]}\n", PRIVATE_NET))
    assert len(msgs) == 1
    assert msgs[0].startswith("segments.yaml:")
    assert "flows[0] (corp -> web)" in msgs[0]
    assert "clusterCidrs" in msgs[0] and "narrow 'corp'" in msgs[0]
    with pytest.raises(CheckError):
        text = spec("  - {from: web, to: corp, ports: [tcp/443]}\n", PRIVATE_NET)
        checked_plan(K8S, parse_intent(text), {})


def test_a_private_network_compiles_less_the_cluster_ranges_once_they_are_known():
    text = spec("  - {from: corp, to: web, ports: [tcp/443]}\n", PRIVATE_NET)
    plan = checked_plan(K8S, parse_intent(text), {"clusterCidrs": ["10.244.0.0/16", "10.96.0.0/12"]})
    # Less the cluster (pods are named by selectors) and less vm's cidr (segments
    # meet only through flows).
    assert ipblocks(plan) == [{"cidr": "10.0.0.0/8",
                               "except": ["10.9.0.0/24", "10.96.0.0/12", "10.244.0.0/16"]}]


def test_under_cilium_an_ipblock_never_matches_pods_so_the_range_need_not_be_known():
    text = spec("  - {from: corp, to: web, ports: [tcp/443]}\n", PRIVATE_NET)
    assert problems(text, cni="cilium") == []


def test_public_networks_and_internet_need_no_cluster_ranges():
    flows = "  - {from: internet, to: web, ports: [tcp/443]}\n  - {from: web, to: cdn, ports: [tcp/443]}\n"
    assert problems(spec(flows, "  cdn: [198.51.100.0/24]\n")) == []


def test_a_network_inside_the_cluster_ranges_is_refused():
    """It would compile to no peer at all, and an empty peer list means everyone."""
    text = spec("  - {from: web, to: pods, ports: [tcp/80]}\n", "  pods: [10.244.1.0/24]\n")
    msgs = problems(text, clusterCidrs=["10.244.0.0/16"])
    assert len(msgs) == 1
    assert "flows[0] (web -> pods)" in msgs[0] and "inside clusterCidrs" in msgs[0]


def test_segment_cidrs_must_sit_on_their_side_of_the_cluster_ranges():
    msgs = problems(spec(), clusterCidrs=["10.9.0.0/16"])
    assert any(m.startswith("segments.yaml:") and "segments.vm.cidr" in m and "overlaps clusterCidrs" in m
               for m in msgs), msgs
    assert any("segments.db.cidr" in m and "not inside clusterCidrs" in m for m in msgs), msgs
    assert problems(spec(), clusterCidrs=["10.244.0.0/16"]) == []


def test_an_exclusion_that_equals_an_include_never_becomes_an_except_of_itself():
    """The API server rejects {cidr: X, except: [X]} and the policy is never applied."""
    networks = "  backends: [10.9.0.0/24, 172.20.0.0/24, 172.21.0.0/16]\n"
    segments = SEGMENTS + "  cache: {cidr: 172.21.0.0/17}\n"
    plan = checked_plan(K8S, parse_intent(spec("  - {from: web, to: backends, ports: [tcp/80]}\n", networks,
                                         segments)), {"clusterCidrs": ["10.244.0.0/16"]})
    assert ipblocks(plan) == [{"cidr": "172.20.0.0/24"}, {"cidr": "172.21.128.0/17"}]


# ------------------------------------------------------- cluster DNS


def test_default_deny_in_kube_system_is_refused_it_would_isolate_the_dns_pods():
    segments = SEGMENTS + "  agent: {kubernetes: {namespace: kube-system, labels: {app: agent}}}\n"
    msgs = problems(spec(segments=segments), defaultDenyNamespaces=True)
    assert len(msgs) == 1
    assert "segments.agent.kubernetes" in msgs[0] and "cluster DNS" in msgs[0]
    assert "defaultDenyNamespaces: false" in msgs[0]
    assert problems(spec(segments=segments)) == []


# ------------------------------------------------------- names the API validates


def test_names_the_api_server_would_reject_are_refused():
    """Specs cannot spell such names today; an intent built another way still may."""
    intent = parse_intent(spec(), "segments.yaml")
    long = dataclasses.replace(intent, name="n" * 250)
    msgs = [str(p) for p in find_problems(K8S, long, {})]
    assert any("is not a valid Kubernetes name" in m for m in msgs), msgs
    assert any("name: spec name" in m and "not a valid label value" in m for m in msgs), msgs
    assert [str(p) for p in find_problems(K8S, intent, {})] == []
