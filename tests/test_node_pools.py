"""Pod segments on GCP and Azure: pods carry their node's cloud identity, so each pod
segment needs a node pool of its own. settings.nodePools states the mapping; check
refuses a pool two pod segments share, naming both and the fix; without it verify
prints the assumption its verdict rests on."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cloudfence.cli import main
from cloudfence.intent import load_intent
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan, find_problems
from cloudfence.verify import verify_plan
from tests.fakeplugin import AZURE_PLACE, EXAMPLE, GCP_REGION

INTENT = load_intent(EXAMPLE)
PLACES = {"gcp": {"project": "ai-inference-prod", "region": "us-central1"},
          "azure": {"resourceGroupName": "rg-ai-inference", "location": "westeurope",
                    "addressSpace": ["10.20.0.0/16"]}}
CARRIES = {"gcp": "network tag or service account", "azure": "application security group"}
OWN = {"gateway": "web", "inference": "gpu", "feature-db": "db", "monitoring": "ops"}


@pytest.mark.parametrize("target", sorted(PLACES))
def test_a_shared_node_pool_is_refused_naming_both_segments_and_the_fix(target):
    problems = find_problems(get_provider(target), INTENT,
                             {**PLACES[target], "nodePools": {**OWN, "inference": "web"}})
    assert [p.where for p in problems] == ["settings.nodePools.inference"]
    text = problems[0].message
    assert "'gateway' and 'inference' share node pool web" in text and CARRIES[target] in text
    assert "a node pool of its own" in text and "NetworkPolicies" in text


@pytest.mark.parametrize("target", sorted(PLACES))
@pytest.mark.parametrize("pools, where, says", [
    ({**OWN, "vector-db": "vms"}, "settings.nodePools.vector-db", "no kubernetes block"),
    ({**OWN, "gatway": "x"}, "settings.nodePools.gatway", "did you mean 'gateway'"),
    ({"gateway": "web"}, "settings.nodePools", "pod segment 'feature-db' is not listed"),
    ({}, "settings.nodePools", "pod segment 'gateway' is not listed"),  # given, but empty
])
def test_a_mapping_that_misses_the_pod_segments_is_refused(target, pools, where, says):
    problems = find_problems(get_provider(target), INTENT, {**PLACES[target], "nodePools": pools})
    assert any(p.where == where and says in p.message for p in problems), problems


@pytest.mark.parametrize("target", sorted(PLACES))
def test_own_pools_verify_and_the_assumption_names_them(target):
    provider = get_provider(target)
    settings = {**PLACES[target], "nodePools": OWN}
    verdict = verify_plan(INTENT, provider, checked_plan(provider, INTENT, settings), checked=True)
    assert verdict.equivalent
    line = next(a for a in verdict.assumptions if "node pool" in a)
    assert "gateway on web" in line and "inference on gpu" in line and CARRIES[target] in line


@pytest.mark.parametrize("target", sorted(PLACES))
def test_without_the_mapping_each_pod_segment_is_assumed_on_a_pool_of_its_own(target):
    provider = get_provider(target)
    verdict = verify_plan(INTENT, provider, checked_plan(provider, INTENT, PLACES[target]), checked=True)
    line = next(a for a in verdict.assumptions if "node pool" in a)
    assert line.startswith("each pod segment runs on a node pool of its own")
    assert all(s in line for s in OWN) and "settings.nodePools" in line


@pytest.mark.parametrize("target, place", [("gcp", GCP_REGION), ("azure", AZURE_PLACE)])
def test_the_cli_exits_2_naming_the_key(target, place):
    for bad, where in [("{gateway: Web_Pool}", "settings.nodePools"),
                       ("{gateway: }", "settings.nodePools: gateway: expected the name of a node pool, got "
                                       "nothing"),
                       ("{gateway: web, inference: web, feature-db: db, monitoring: ops}",
                        "settings.nodePools.inference")]:
        result = CliRunner().invoke(main, ["verify", str(EXAMPLE), "-p", target, *place,
                                           "--set", f"{target}.nodePools={bad}"])
        assert result.exit_code == 2, result.output
        assert where in result.output and "Traceback" not in result.output
