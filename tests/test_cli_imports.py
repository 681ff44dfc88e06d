"""The CLI must not load Pulumi (0.2-2 s per SDK) unless --via-pulumi asks for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakeplugin import CLI, CLUSTER, EXAMPLE, ROOT, builtin_available, site_env

PROBE = """
import json, sys
import cloudfence.cli
code = cloudfence.cli.main(sys.argv[1:], standalone_mode=False)
loaded = sorted(m for m in sys.modules if m.split(".")[0].startswith("pulumi"))
print("@@" + json.dumps({"code": code, "pulumi": loaded}))
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return site_env(tmp_path_factory.mktemp("site"), fake=True)


def probe(args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("@@")), None)
    assert line, proc.stdout + proc.stderr
    return json.loads(line[2:])


def commands(out: Path) -> list[list[str]]:
    spec = str(EXAMPLE)
    cmds = [["validate", spec], ["providers"], ["plan", spec, "-p", "fakecloud", "--format", "json"],
            ["verify", spec, "-p", "fakecloud"]]
    if "kubernetes" in builtin_available():
        cmds += [["plan", spec, "-p", "kubernetes", *CLUSTER], ["verify", spec, "-p", "all", *CLUSTER],
                 ["export", spec, "-p", "kubernetes", "-o", str(out), *CLUSTER]]
    return cmds


def test_no_pulumi_module_is_imported(tmp_path: Path, env: dict[str, str]) -> None:
    for args in commands(tmp_path / "out"):
        result = probe(args, env)
        assert result["pulumi"] == [], (args, result)
        assert result["code"] in (None, 0, 1), (args, result)


@pytest.mark.skipif("kubernetes" not in builtin_available(), reason="kubernetes provider not in this tree")
def test_via_pulumi_does_import_pulumi(env: dict[str, str]) -> None:
    # The control for the test above: the probe does see Pulumi when it is loaded.
    result = probe(["plan", str(EXAMPLE), "-p", "kubernetes", "--via-pulumi", "--format", "json", *CLUSTER],
                   env)
    assert "pulumi" in result["pulumi"]


def test_importtime_of_verify_all(env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", *CLI[1:], "verify", str(EXAMPLE), "-p", "all"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line]
    assert "cloudfence.verify" in imported and "click" in imported  # the profile is really there
    assert [m for m in imported if m.split(".")[0].startswith("pulumi")] == []
