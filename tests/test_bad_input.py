"""Bad input, run as a user would: `cloudfence` in a fresh interpreter.

Every case must exit 2 with `error:` lines that name the file, the line where
the YAML has one, the key path and the fix, and never print a traceback.
"""

from __future__ import annotations

import resource
import textwrap
from pathlib import Path

import pytest

from tests.fakeplugin import run_cli, site_env

BASE = """\
version: 1
name: shop
segments:
  web:
    cidr: 10.0.1.0/24
  db:
    cidr: 10.0.2.0/24
networks:
  office: [192.168.0.0/16]
services:
  https: tcp/443
flows:
  - from: web
    to: db
    ports: [tcp/5432]
  - from: office
    to: web
    ports: [https]
"""


def edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return site_env(tmp_path_factory.mktemp("site"), fake=True)


def fails(args: list, env: dict[str, str], *expected: str, timeout: float = 30) -> str:
    proc = run_cli(args, env, timeout=timeout)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    for text in expected:
        assert text in proc.stderr, f"{text!r} not in:\n{proc.stderr}"
    return proc.stderr


# (id, spec text, expected fragments: "{file}" is the spec path)
SPEC_CASES = [
    ("malformed-yaml", "version: 1\nname: shop\nsegments: {web: [\n",
     ["{file}:4: ", "malformed YAML"]),
    ("missing-version", BASE.replace("version: 1\n", ""),
     ["{file}:1: ", "missing 'version': add 'version: 1' at the top"]),
    ("unsupported-version", edit("version: 1", "version: 2"),
     ["{file}:1: version: unsupported version 2: this cloudfence reads version 1"]),
    ("unknown-top-key", edit("flows:", "flow:"),
     ["{file}:12: flow: unknown key 'flow' (did you mean 'flows'?)"]),
    ("unknown-segment-key", edit("    cidr: 10.0.1.0/24", "    cidrs: 10.0.1.0/24"),
     ["{file}:5: segments.web.cidrs: unknown key 'cidrs' (did you mean 'cidr'?)"]),
    ("unknown-segment", edit("to: db", "to: dbb"),
     ["{file}:14: flows[0].to: unknown segment or network 'dbb' (did you mean 'db'?)"]),
    ("unknown-network", edit("- from: web", "- from: ofice"),
     ["{file}:13: flows[0].from: unknown segment or network 'ofice' (did you mean 'office'?)"]),
    ("unknown-service", edit("ports: [tcp/5432]", "ports: [htps]"),
     ["{file}:15: flows[0].ports: unknown service 'htps' (did you mean 'https'?)",
      "define it under 'services' or write a literal such as tcp/443"]),
    ("duplicate-yaml-key", edit("  db:\n", "  web:\n"),
     ["{file}:6: segments.web: duplicate key 'web': each name may appear once"]),
    ("segment-and-network", edit("  office: [192.168.0.0/16]", "  web: [192.168.0.0/16]"),
     ["{file}:9: networks.web: 'web' is both a segment and a network: rename one"]),
    ("invalid-name", edit("  web:\n", "  Web_Server:\n").replace("from: web", "from: Web_Server"),
     ["{file}:4: segments.Web_Server: invalid segment name 'Web_Server'",
      "use lowercase letters, digits and ", "(e.g. 'web-server')"]),
    ("name-too-long", edit("name: shop", "name: " + "s" * 41),
     ["{file}:2: name: spec name '" + "s" * 41 + "' is 41 characters: keep it to 40"]),
    ("invalid-cidr", edit("10.0.1.0/24", "10.0.1.0/33"),
     ["{file}:5: segments.web.cidr: invalid CIDR '10.0.1.0/33': an IPv4 prefix length is at most 32"]),
    ("cidr-host-bits", edit("10.0.1.0/24", "10.0.1.5/24"),
     ["{file}:5: segments.web.cidr: invalid CIDR '10.0.1.5/24': host bits are set, "
      "did you mean 10.0.1.0/24?"]),
    ("exclusion-outside-include",
     edit("  office: [192.168.0.0/16]", "  office: {include: [10.0.0.0/8], exclude: [192.168.0.0/16]}"),
     ["{file}:9: networks.office.exclude[0]: exclusion 192.168.0.0/16 is outside every include "
      "of 'office': remove it or widen an include"]),
    ("port-out-of-range", edit("tcp/5432", "tcp/70000"),
     ["{file}:15: flows[0].ports: port 70000 in 'tcp/70000' is outside 0-65535"]),
    ("reversed-range", edit("tcp/5432", "tcp/5433-5432"),
     ["{file}:15: flows[0].ports: range 'tcp/5433-5432' is reversed: write tcp/5432-5433"]),
    ("unknown-protocol", edit("tcp/5432", "xtp/5432"),
     ["{file}:15: flows[0].ports: unknown protocol 'xtp' in 'xtp/5432': use tcp, udp, sctp, icmp, "
      "icmpv6 or any"]),
    ("empty-port-list", edit("ports: [tcp/5432]", "ports: []"),
     ["{file}:15: flows[0].ports: empty port list: give at least one port or service"]),
    ("empty-service", edit("https: tcp/443", "https: []"),
     ["{file}:11: services.https: empty port list: give at least one port, e.g. tcp/443"]),
    ("flow-between-non-segments", edit("- from: web\n    to: db", "- from: office\n    to: internet"),
     ["{file}:13: flows[0]: flow between 'office' and 'internet', neither a segment",
      "name a segment on one side"]),
    ("empty-spec", "", ["{file}: spec is empty: start with 'version: 1'"]),
    ("wrong-type", edit("    cidr: 10.0.2.0/24", "    cidr: 42"),
     ["{file}:7: segments.db.cidr: expected ", "got 42"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_bad_spec(tmp_path: Path, env: dict[str, str], text: str, expected: list[str]) -> None:
    spec = tmp_path / "segments.yaml"
    spec.write_text(text)
    fails(["validate", spec], env, *(e.format(file=spec) for e in expected))


def test_many_problems_are_all_reported(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "segments.yaml"
    spec.write_text(edit("to: db", "to: dbb").replace("10.0.1.0/24", "10.0.1.0/33"))
    err = fails(["validate", spec], env, "invalid CIDR '10.0.1.0/33'", "unknown segment or network 'dbb'")
    assert len(err.strip().splitlines()) == 2
    assert all(line.startswith(f"error: {spec}:") for line in err.strip().splitlines())


def test_missing_spec_file(tmp_path: Path, env: dict[str, str]) -> None:
    missing = tmp_path / "nope.yaml"
    fails(["validate", missing], env, f"error: {missing}: spec file not found: check the path")


def test_spec_over_the_size_limit(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "segments.yaml"
    spec.write_text(BASE + "# padding\n" * 110_000)
    fails(["validate", spec], env, f"{spec}: spec is 1,", "over the 1,000,000-byte limit")


def test_alias_bomb_is_refused_quickly(tmp_path: Path, env: dict[str, str]) -> None:
    lines = ['version: 1', 'name: shop', 'x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 10)]
    spec = tmp_path / "segments.yaml"
    spec.write_text("\n".join(lines) + "\n")
    before = _children_cpu()
    fails(["validate", spec], env, f"{spec}:4: ", "YAML aliases (*name) are not allowed in a spec")
    # CPU time, not wall: a bomb expanded burns seconds of it, a busy machine only stretches the wall
    assert _children_cpu() - before < 3


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


# ------------------------------------------------------- providers and settings


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "segments.yaml"
    path.write_text(BASE)
    return path


def test_unknown_provider_lists_installed(spec: Path, env: dict[str, str]) -> None:
    fails(["plan", spec, "--provider", "fakecloude"], env,
          "error: unknown provider 'fakecloude' (did you mean 'fakecloud'?)")
    fails(["plan", spec, "--provider", "FakeCloud"], env,
          "error: unknown provider 'FakeCloud' (did you mean 'fakecloud'?)")
    err = fails(["plan", spec, "--provider", "zzz"], env,
                "error: unknown provider 'zzz' (installed providers: ")
    assert "fakecloud" in err


def test_unknown_settings_key(spec: Path, env: dict[str, str]) -> None:
    fails(["plan", spec, "-p", "fakecloud", "--set", "dnss=false"], env,
          "error: settings.dnss: unknown fakecloud setting (did you mean 'dns'?) (known: dns, listPrefix)")


def test_bad_set_syntax(spec: Path, env: dict[str, str]) -> None:
    fails(["verify", spec, "-p", "fakecloud", "--set", "dns"], env,
          "error: --set dns: write KEY=VALUE, e.g. --set vpcId=vpc-0abc")


def test_settings_for_unknown_provider(spec: Path, env: dict[str, str]) -> None:
    fails(["verify", spec, "-p", "all", "--set", "fakecloudd.dns=false"], env,
          "error: --set fakecloudd.dns=false: settings for unknown provider 'fakecloudd' (did you mean "
          "'fakecloud'?)")


def test_malformed_settings_file(tmp_path: Path, spec: Path, env: dict[str, str]) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("dns: false\nlistPrefix: [unclosed\n")
    fails(["plan", spec, "-p", "fakecloud", "--settings", settings], env,
          f"error: {settings}:3: malformed YAML")


def test_missing_settings_file(tmp_path: Path, spec: Path, env: dict[str, str]) -> None:
    fails(["plan", spec, "-p", "fakecloud", "--settings", tmp_path / "none.yaml"], env,
          "settings file not found: check the path")


def test_provider_cannot_express_the_spec(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "segments.yaml"
    spec.write_text(edit("ports: [tcp/5432]", "ports: [sctp/9899]"))
    fails(["plan", spec, "-p", "fakecloud"], env,
          f"error: {spec}:13: flows[0] (web -> db): fakecloud cannot express sctp: remove it from this "
          "flow or target another provider")


def test_unsafe_setting_value_type(spec: Path, env: dict[str, str]) -> None:
    fails(["verify", spec, "-p", "fakecloud", "--set", "dns=maybe"], env,
          "error: settings.dns: expected true or false, got 'maybe'")


def test_usage_errors_exit_2_without_traceback(spec: Path, env: dict[str, str]) -> None:
    proc = run_cli(["plan", spec], env)  # neither --provider nor --stack
    assert proc.returncode == 2
    assert "error: give --provider P (or 'all'), or --stack Pulumi.<stack>.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_documented_example_is_valid(env: dict[str, str]) -> None:
    # Control: the same runner and environment accept a good spec.
    proc = run_cli(["validate", "stacks/ai-inference/segments.yaml"], env)
    assert proc.returncode == 0, proc.stderr
    assert textwrap.dedent(proc.stderr) == ""
