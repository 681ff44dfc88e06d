"""The GitHub Actions recipe of docs/ci.md runs as written against this repository's
example stack, so it cannot rot: every step that calls cloudfence is run through bash
as the runner would, with `cloudfence` on PATH and a job summary file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakeplugin import EXAMPLE, ROOT, builtin_available

WORKFLOW = ROOT / "docs" / "examples" / "github-actions.yml"
CALLS = re.compile(r"^\s*cloudfence\s+(\S+)", re.MULTILINE)


def workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


def steps() -> list[dict]:
    (job,) = workflow()["jobs"].values()
    return list(job["steps"])


def cloudfence_steps() -> list[dict]:
    return [s for s in steps() if CALLS.search(s.get("run", ""))]


def test_the_recipe_is_a_workflow_that_validates_verifies_and_diffs() -> None:
    doc = workflow()
    assert doc["defaults"]["run"]["shell"] == "bash"  # -eo pipefail: `| tee` keeps the exit status
    scripts = "\n".join(s["run"] for s in cloudfence_steps())
    assert CALLS.findall(scripts) == ["validate", "verify", "diff"]
    assert 'cloudfence validate --strict "$SPEC"' in scripts
    assert "--format markdown" in scripts and '"$GITHUB_STEP_SUMMARY"' in scripts
    assert "diff --git origin/main" in scripts
    checkout = next(s for s in steps() if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # origin/main must be there to diff against
    assert Path(ROOT / doc["env"]["SPEC"]) == EXAMPLE
    assert sorted((ROOT / doc["env"]["STACKS"]).glob("Pulumi.*.yaml"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="the recipe's steps run in bash")
@pytest.mark.skipif(set(builtin_available()) != {"aws", "azure", "gcp", "kubernetes"},
                    reason="the example's stacks use the four built-in providers")
def test_every_cloudfence_step_runs_against_the_example(env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cloudfence"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cloudfence.cli "$@"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    summary.write_text("")
    run_env = {**env, **{k: str(v) for k, v in workflow()["env"].items()},
               "PATH": f"{bin_dir}:{env['PATH']}", "GITHUB_STEP_SUMMARY": str(summary)}
    in_git = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"HEAD:{EXAMPLE.relative_to(ROOT)}"],
                            capture_output=True).returncode == 0
    ran = []
    for step in cloudfence_steps():
        script = step["run"]
        if "origin/main" in script:
            if not in_git:
                continue
            script = script.replace("origin/main", "HEAD")  # the remote's branch: this checkout's own
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=run_env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{step['name']}:\n{proc.stdout}\n{proc.stderr}"
        ran.append(step["name"])
    assert len(ran) >= 2, ran
    text = summary.read_text()
    assert "### cloudfence verify: `ai-inference`" in text
    assert "| target | resources | rules | verdict | counterexamples | assumptions |" in text
    for stack in sorted(EXAMPLE.parent.glob("Pulumi.*.yaml")):  # every stack file, each target
        assert re.search(rf"^\| \S+ \({re.escape(stack.name)}\) \| \d+ \| \d+ \| equivalent \| 0 \|", text,
                         re.MULTILINE), stack.name
    assert "**cannot express**" not in text and "**NOT equivalent**" not in text
    assert "**Portable**" in text
    if in_git:
        assert "### cloudfence diff: `HEAD:stacks/ai-inference/segments.yaml`" in text
