"""A third-party provider joins through its package's entry points alone.

tests/fakeplugin/fakecloud_provider is such a package: nothing in core/ names it.
It is "installed" by writing the dist-info that pip would write into a temporary
directory on PYTHONPATH, then used through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from cloudfence.errors import CheckError
from cloudfence.intent import load_intent
from cloudfence.plugins import collect, plugin_manager
from cloudfence.provider import Provider, checked_plan
from cloudfence.reach import EGRESS, INGRESS
from cloudfence.verify import verify, verify_plan
from tests.fakeplugin import EXAMPLE, HERE, fake_providers, run_cli, site_env
from tests.strategies import intent_from, spec_texts


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return site_env(tmp_path_factory.mktemp("site"), fake=True)


def test_installed_plugin_is_listed(env: dict[str, str]) -> None:
    proc = run_cli(["providers", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    listed = {p["name"]: p for p in json.loads(proc.stdout)["providers"]}
    assert listed["fakecloud"]["capabilities"]["protocols"] == ["tcp", "udp", "icmp", "icmpv6", "other"]
    dns = next(s for s in listed["fakecloud"]["settings"] if s["key"] == "dns")
    assert dns["description"].startswith("allow every segment") and dns["default"] is True
    assert "fakecloud-leaky" in listed


def test_not_listed_without_its_dist_info(tmp_path: Path) -> None:
    # Control: the package on the path but not "installed" is not a plugin.
    env = site_env(tmp_path / "site")
    env["PYTHONPATH"] = f"{HERE}:{env['PYTHONPATH']}"
    proc = run_cli(["providers", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert "fakecloud" not in [p["name"] for p in json.loads(proc.stdout)["providers"]]


def test_a_broken_plugin_is_named_and_the_others_keep_working(tmp_path: Path) -> None:
    from tests.fakeplugin import write_dist_info

    site = tmp_path / "site"
    env = site_env(site, fake=True)
    write_dist_info(site, "brokencloud", "0.1", {"brokencloud": "no_such_module.plugin"})
    proc = run_cli(["providers", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "fakecloud" in [p["name"] for p in out["providers"]]
    assert "ModuleNotFoundError" in out["failed"]["brokencloud"]
    ok = run_cli(["verify", EXAMPLE, "--provider", "fakecloud"], env)
    assert ok.returncode == 0, ok.stderr
    bad = run_cli(["verify", EXAMPLE, "--provider", "brokencloud"], env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "provider plugin 'brokencloud' is installed but failed to load" in bad.stderr


def test_installed_plugin_verifies(env: dict[str, str]) -> None:
    proc = run_cli(["verify", EXAMPLE, "--provider", "fakecloud"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("fakecloud: equivalent (")
    leaky = run_cli(["verify", EXAMPLE, "--provider", "fakecloud-leaky"], env)
    assert leaky.returncode == 1
    assert "NOT equivalent" in leaky.stdout.splitlines()[0]


def test_in_process_registration() -> None:
    fake_providers()  # puts the package on sys.path
    import fakecloud_provider.plugin

    found = collect(plugin_manager(fakecloud_provider.plugin))
    provider = found["fakecloud"]
    assert isinstance(provider, Provider)
    intent = load_intent(EXAMPLE)
    verdict = verify(intent, provider, {"dns": False})
    assert verdict.equivalent, verdict.counterexamples
    assert verdict.implied == ()


def test_evaluate_reads_records_not_the_spec() -> None:
    provider = fake_providers()["fakecloud"]
    intent = load_intent(EXAMPLE)
    plan = checked_plan(provider, intent, {})
    reach = provider.evaluate(plan, intent)
    assert reach.governed == frozenset(intent.segments)
    # feature-db, model-store, vector-db, DNS, @object-storage
    assert len(reach.rules("inference", EGRESS)) == 5
    assert any(peer.platform == {"@object-storage"} for peer, _ in reach.rules("inference", EGRESS))
    assert len(reach.rules("gateway", INGRESS)) == 3  # internet, @load-balancer, monitoring
    assert any(peer.platform == {"@load-balancer"} for peer, _ in reach.rules("gateway", INGRESS))
    assert len(reach.rules("vector-db", INGRESS)) == 2  # inference, corp-vpn
    # Remove the records behind one flow: verify must notice, in both directions.
    trimmed = type(plan)(plan.spec, plan.provider,
                         tuple(r for r in plan.resources if "gateway-to-inference" not in r.name),
                         plan.implied, plan.exports)
    verdict = verify_plan(intent, provider, trimmed)
    assert not verdict.equivalent
    assert {(c.kind, c.source.split()[0], c.destination.split()[0], c.protocol, c.ports)
            for c in verdict.counterexamples} == {("missing", "gateway", "inference", "tcp", "80")}


@settings(max_examples=40, deadline=None)
@given(spec_texts(allow_icmp=True, platform=("@fake-dns", "@cluster-dns")))
def test_random_specs_either_refused_or_equivalent(text: str) -> None:
    # The property every provider should have: check names what it cannot express,
    # or the compiled plan verifies equivalent.
    provider = fake_providers()["fakecloud"]
    intent = intent_from(text)
    try:
        verdict = verify(intent, provider, {})
    except CheckError as exc:
        messages = " ".join(p.message for p in exc.problems)
        # what it cannot express, or a flow that can carry no packet on any target
        assert any(why in messages for why in ("sctp", "@cluster-dns", "no packet can pass")), messages
        return
    assert verdict.equivalent, verdict.counterexamples
