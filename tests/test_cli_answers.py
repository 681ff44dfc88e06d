"""Every input gets a clear answer, checked as a user would: `cloudfence` in a
fresh interpreter, its exit status and what it prints.

Internal errors (exit 3, one line, the traceback only with --debug), export
owning its folder, warnings and --strict, standard input, and messages that
say what to write instead, with plurals right.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.fakeplugin import CLI, CLUSTER, EXAMPLE, ROOT, run_cli, site_env, write_dist_info

GOOD = EXAMPLE.read_text()

BOOM = '''
from cloudfence import BaseProvider, Capabilities, hookimpl


class Boom(BaseProvider):
    name = "boom"
    description = "a provider with a bug: compile divides by zero"
    # knows the example's platform endpoints, so the example passes check and reaches compile
    capabilities = Capabilities(platform_endpoints={"@load-balancer": "a load balancer",
                                                    "@object-storage": "an object store"})

    def compile(self, intent, settings):
        return 1 // 0

    def evaluate(self, plan, intent):
        raise AssertionError("not reached")

    def sdk_class(self, type_token):
        raise NotImplementedError


@hookimpl
def register_providers(register):
    register(Boom())
'''


@pytest.fixture(scope="module")
def boom_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("site")
    env = site_env(site)
    (site / "boom_plugin.py").write_text(BOOM)
    write_dist_info(site, "boom", "0.1", {"boom": "boom_plugin"})
    return env


def stdin_cli(args: list[str], env: dict[str, str], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=ROOT, input=text, capture_output=True, text=True,
                          timeout=60)


# ------------------------------------------------------------- internal errors


def test_a_bug_is_one_line_and_exit_3(boom_env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "-p", "boom"], boom_env)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: internal error (a bug, not your input): ZeroDivisionError: "
                               "integer division or modulo by zero")
    assert "report it at " in lines[0] and "--debug" in lines[0]


def test_debug_shows_the_traceback(boom_env: dict[str, str]) -> None:
    proc = run_cli(["--debug", "plan", EXAMPLE, "-p", "boom"], boom_env)
    assert proc.returncode == 3
    assert "Traceback (most recent call last)" in proc.stderr and "1 // 0" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("error: internal error")


def test_via_pulumi_without_an_sdk_is_bad_input(fake_env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "-p", "fakecloud", "--via-pulumi"], fake_env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: provider fakecloud has no Pulumi SDK class for ")
    assert "plan without --via-pulumi" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------- export


def export(spec: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["export", spec, "-p", "kubernetes", "-o", out, *CLUSTER, *extra], env)


def test_export_writes_a_kustomization_of_labelled_manifests(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "out"
    proc = export(EXAMPLE, out, env)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "kustomization.yaml" in names
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == [n for n in names if n != "kustomization.yaml"]
    for name in kustomization["resources"]:
        labels = yaml.safe_load((out / name).read_text())["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "cloudfence"
        assert labels["cloudfence.io/spec"] == "ai-inference"
    assert "5 files written" in proc.stderr  # 4 policies and the kustomization
    if shutil.which("kubectl"):
        built = subprocess.run(["kubectl", "kustomize", str(out)], capture_output=True, text=True,
                               timeout=60)
        assert built.returncode == 0, built.stderr
        assert len([d for d in yaml.safe_load_all(built.stdout) if d]) == len(kustomization["resources"])


def test_reexport_removes_what_the_new_plan_no_longer_has(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "out"
    assert export(EXAMPLE, out, env).returncode == 0
    assert (out / "monitoring.ai-inference-monitoring.yaml").exists()
    smaller = tmp_path / "segments.yaml"
    text = GOOD.replace("    kubernetes: {namespace: monitoring, labels: {app: prometheus}}\n", "")
    smaller.write_text(text)
    # monitoring's pool leaves the cluster with it (the last --set wins)
    proc = export(smaller, out, env, "--set", "kubernetes.clusterCidrs=[10.20.1.0/24, 10.20.2.0/24, "
                  "10.20.4.0/24, 10.96.0.0/12]")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "monitoring.ai-inference-monitoring.yaml").exists()
    assert "removed monitoring.ai-inference-monitoring.yaml" in proc.stderr
    assert yaml.safe_load((out / "kustomization.yaml").read_text())["resources"] == sorted(
        p.name for p in out.iterdir() if p.name != "kustomization.yaml")


def test_export_refuses_to_mix_with_files_it_did_not_write(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = export(EXAMPLE, out, env)
    assert proc.returncode == 2
    assert proc.stderr == (f"error: {out}: the output folder holds files this export did not write: "
                           "notes.txt; export into an empty folder or one it wrote before, or pass "
                           "--force to write beside them\n")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    proc = export(EXAMPLE, out, env, "--force")
    assert proc.returncode == 0, proc.stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "kustomization.yaml").exists()


def test_export_of_another_spec_is_not_ours(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "out"
    assert export(EXAMPLE, out, env).returncode == 0
    other = tmp_path / "other.yaml"
    other.write_text(GOOD.replace("name: ai-inference\n", "name: other\n"))
    proc = export(other, out, env)
    assert proc.returncode == 2
    assert "(exported for spec 'ai-inference')" in proc.stderr


# ------------------------------------------------------------ warnings, strict


WARNED = textwrap.dedent("""\
    version: 1
    name: shop
    segments:
      web: {cidr: 10.0.1.0/24, kubernetes: {namespace: shop, labels: {app: web}}}
      db: {cidr: 10.0.2.0/24, kubernetes: {namespace: shop, labels: {app: db}}}
    networks:
      corp: [10.200.0.0/16, 'fd00:200::/48']
      spare: [192.168.0.0/16]
      inner: [10.0.1.0/25]
    services:
      https: tcp/443
      unused: tcp/1
    flows:
      - {from: corp, to: web, ports: [https]}
      - {from: web, to: db, ports: [tcp/5432]}
      - {from: web, to: db, ports: [tcp/5433]}
      - {from: inner, to: db, ports: [tcp/1]}
    """)
WARNED_CLUSTER = ("--set", "clusterCidrs=[10.0.0.0/16]")
WARNINGS = [
    "networks.spare: network 'spare' is named by no flow, so it allows nothing",
    "services.unused: service 'unused' is used by no flow, so it opens nothing",
    "networks.inner: every address of 'inner' belongs to segment web",
    "flows[0] (corp -> web): the IPv6 addresses of 'corp' reach nothing here: 'web' holds IPv4 "
    "addresses only",
    "flows[2]: web -> db is also allowed by flows[1]",
]


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    spec = tmp_path / "segments.yaml"
    spec.write_text(WARNED)
    return spec


def test_validate_prints_warnings_and_succeeds(warned: Path, env: dict[str, str]) -> None:
    proc = run_cli(["validate", warned], env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert all(line.startswith(f"warning: {warned}:") for line in lines), proc.stderr
    for text in WARNINGS:
        assert any(text in line for line in lines), (text, proc.stderr)
    assert f"warning: {warned}:8: networks.spare: " in proc.stderr


def test_strict_turns_warnings_into_exit_2(warned: Path, env: dict[str, str]) -> None:
    proc = run_cli(["validate", warned, "--strict"], env)
    assert proc.returncode == 2
    assert "warning: " in proc.stderr and "error: 5 warnings and --strict" in proc.stderr
    clean = warned.parent / "clean.yaml"
    clean.write_text("version: 1\nname: shop\nsegments: {web: {}}\n")
    assert run_cli(["validate", clean, "--strict"], env).returncode == 0


@pytest.mark.parametrize("verb", ["plan", "verify"])
def test_plan_and_verify_print_warnings_on_stderr(warned: Path, env: dict[str, str], verb: str) -> None:
    # The flow from 'inner' can carry nothing, which plan and verify refuse (a check error, below).
    warned.write_text(WARNED.replace("  - {from: inner, to: db, ports: [tcp/1]}\n", ""))
    proc = run_cli([verb, warned, "-p", "kubernetes", "--format", "json", *WARNED_CLUSTER], env)
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # stdout stays the document
    assert "warning: " in proc.stderr and "services.unused" in proc.stderr
    assert run_cli([verb, warned, "-p", "kubernetes", "--strict", *WARNED_CLUSTER], env).returncode == 2


@pytest.mark.parametrize("verb", ["plan", "verify"])
def test_a_flow_from_a_network_inside_a_segment_is_refused(warned: Path, env: dict[str, str],
                                                           verb: str) -> None:
    proc = run_cli([verb, warned, "-p", "kubernetes", *WARNED_CLUSTER], env)
    assert proc.returncode == 2
    assert "flows[3] (inner -> db): network 'inner' holds no address on this target" in proc.stderr
    assert "name the segment in the flow" in proc.stderr


def test_the_example_has_no_warnings(env: dict[str, str]) -> None:
    proc = run_cli(["validate", EXAMPLE, "--strict"], env)
    assert (proc.returncode, proc.stderr) == (0, "")


# ------------------------------------------------------------ standard input


def test_spec_from_standard_input(env: dict[str, str]) -> None:
    proc = stdin_cli(["validate", "-"], env, GOOD)
    assert proc.returncode == 0, proc.stderr
    assert "- is valid" in proc.stdout or "<stdin> is valid" in proc.stdout
    proc = stdin_cli(["plan", "-", "-p", "kubernetes", "--format", "json", *CLUSTER], env, GOOD)
    assert proc.returncode == 0 and json.loads(proc.stdout)["spec"] == "ai-inference"
    proc = stdin_cli(["validate", "-"], env, GOOD.replace("cidr: 10.20.1.0/24", "cidr: 10.20.1.0"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: <stdin>:10: segments.gateway.cidr: invalid CIDR '10.20.1.0': "
                                  "the prefix length is missing")


# ------------------------------------------------------------------- messages


def test_settings_folder_is_a_folder(tmp_path: Path, env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "-p", "kubernetes", "--settings", tmp_path], env)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {tmp_path}: is a folder: give the path of a settings YAML file\n"


def test_provider_name_in_the_wrong_case(env: dict[str, str]) -> None:
    proc = run_cli(["plan", EXAMPLE, "-p", "AWS"], env)
    assert proc.returncode == 2
    assert proc.stderr == "error: unknown provider 'AWS' (did you mean 'aws'?)\n"


ONE = "version: 1\nname: one\nsegments:\n  web: {kubernetes: {namespace: shop}}\n" \
      "flows:\n  - {from: web, to: web, ports: [tcp/80]}\n"


def test_plurals_of_one(tmp_path: Path, env: dict[str, str], fake_env: dict[str, str]) -> None:
    spec = tmp_path / "one.yaml"
    spec.write_text(ONE)
    out = run_cli(["validate", spec], env).stdout
    assert "1 segment, 0 networks (+ internet), 1 flow (from 1 spec entry)" in out
    out = run_cli(["plan", spec, "-p", "kubernetes", "--set", "dns=false"], env).stdout
    assert "one on kubernetes: 1 resource planned" in out
    out = run_cli(["verify", spec, "-p", "kubernetes", "--set", "dns=false"], env).stdout
    assert "1 flow judged" in out and "1 flows" not in out
    proc = run_cli(["verify", spec, "-p", "fakecloud-leaky", "--set", "dns=false"], fake_env)
    assert proc.returncode == 1
    assert "NOT equivalent (1 difference; " in proc.stdout, proc.stdout
    proc = run_cli(["export", spec, "-p", "kubernetes", "-o", tmp_path / "out"], env)
    assert "2 files written" in proc.stderr
