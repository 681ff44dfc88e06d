"""No traceback reaches a user, whatever the paths: every verb that reads a
spec, a settings file or writes a folder is run as a user would (a fresh
interpreter) with paths that are missing, folders, under a regular file,
unreadable, binary or deeply nested, and must print one `error:` line and
exit 2.

CI runs as root, where file modes deny nothing: the unreadable cases drop to
the user `nobody` with setpriv, or are skipped (saying so) where that is
impossible. The other cases use paths that fail for root too.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeplugin import CLI, CLUSTER, EXAMPLE, ROOT, run_cli

GOOD = EXAMPLE.read_text()
SPEC_VERBS = {
    "validate": ["validate", "{spec}"],
    "plan": ["plan", "{spec}", "-p", "kubernetes"],
    "verify": ["verify", "{spec}", "-p", "kubernetes"],
    "export": ["export", "{spec}", "-p", "kubernetes", "-o", "{out}"],
}


def bad_specs(root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, the message the error must carry)."""
    (root / "a-file").write_text("x")
    (root / "folder").mkdir()
    (root / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20)
    (root / "latin1.yaml").write_bytes("version: 1\nname: caf\xe9\n".encode("latin-1"))
    (root / "deep.yaml").write_text("version: 1\nname: deep\nsegments: " + "[" * 600 + "]" * 600 + "\n")
    (root / "control.yaml").write_text("version: 1\nname: x\x07\n")
    return {
        "missing": (root / "nope.yaml", "spec file not found: check the path"),
        "folder": (root / "folder", "is a folder: give the path of a spec YAML file"),
        "under-a-file": (root / "a-file" / "spec.yaml", "a part of the path is a file, not a folder"),
        "binary": (root / "binary.yaml", "spec holds NUL bytes: it is a binary file, not YAML text"),
        "not-utf8": (root / "latin1.yaml", "spec is not UTF-8 text"),
        "deep": (root / "deep.yaml", "nested more than 32 levels deep"),
        "control-character": (root / "control.yaml", "is not allowed (is it a binary file?)"),
    }


def one_error(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def fill(args: list[str], **paths: object) -> list[str]:
    return [a.format(**paths) for a in args]


@pytest.mark.parametrize("case", ["missing", "folder", "under-a-file", "binary", "not-utf8", "deep",
                                  "control-character"])
@pytest.mark.parametrize("verb", list(SPEC_VERBS))
def test_every_verb_refuses_a_bad_spec_path(tmp_path: Path, env: dict[str, str], verb: str,
                                            case: str) -> None:
    path, message = bad_specs(tmp_path)[case]
    proc = run_cli(fill(SPEC_VERBS[verb], spec=path, out=tmp_path / "out"), env)
    one_error(proc, f"error: {path}", message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["missing", "folder", "under-a-file", "binary"])
@pytest.mark.parametrize("verb", ["plan", "verify", "export"])
def test_every_verb_refuses_a_bad_settings_path(tmp_path: Path, env: dict[str, str], verb: str,
                                                case: str) -> None:
    path, message = bad_specs(tmp_path)[case]
    message = message.replace("spec", "settings")
    args = [*fill(SPEC_VERBS[verb], spec=EXAMPLE, out=tmp_path / "out"), "--settings", str(path)]
    one_error(run_cli(args, env), f"error: {path}", message)


@pytest.mark.parametrize(("case", "message"), [
    ("under-a-file", "cannot create the output folder: a part of the path is a file"),
    ("a-file", "the output exists and is not a folder: give a folder path"),
])
def test_export_refuses_an_impossible_folder(tmp_path: Path, env: dict[str, str], case: str,
                                             message: str) -> None:
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "out" if case == "under-a-file" else tmp_path / "a-file"
    one_error(run_cli(["export", EXAMPLE, "-p", "kubernetes", "-o", out, *CLUSTER], env), f"error: {out}",
              message)
    assert (tmp_path / "a-file").read_text() == "x"


# ------------------------------------------------- unreadable, as another user


def unprivileged() -> list[str] | None:
    """A command prefix that runs without root's power to read anything, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    probe = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "true"],
                           capture_output=True)
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if probe.returncode == 0 else None


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder other users can enter (pytest's own tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="cloudfence-perm-"))
    path.chmod(0o755)
    yield path
    for p in path.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(path)


def run_unprivileged(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    prefix = unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: file modes deny root nothing, so an unreadable "
                    "file cannot be made here")
    return subprocess.run([*prefix, *CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("verb", list(SPEC_VERBS))
def test_every_verb_refuses_an_unreadable_spec(shared_dir: Path, env: dict[str, str], verb: str) -> None:
    spec = shared_dir / "segments.yaml"
    spec.write_text(GOOD)
    spec.chmod(0)
    proc = run_unprivileged(fill(SPEC_VERBS[verb], spec=spec, out=shared_dir / "out"), env)
    one_error(proc, f"error: {spec}: cannot read the spec file: permission denied")


def test_an_unreadable_settings_file(shared_dir: Path, env: dict[str, str]) -> None:
    settings = shared_dir / "settings.yaml"
    settings.write_text("dns: true\n")
    settings.chmod(0)
    proc = run_unprivileged(["plan", str(EXAMPLE), "-p", "kubernetes", "--settings", str(settings)], env)
    one_error(proc, f"error: {settings}: cannot read the settings file: permission denied")


def test_export_into_an_unwritable_folder(shared_dir: Path, env: dict[str, str]) -> None:
    locked = shared_dir / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    spec = shared_dir / "segments.yaml"
    spec.write_text(GOOD)
    proc = run_unprivileged(["export", str(spec), "-p", "kubernetes", "-o", str(locked / "out"), *CLUSTER],
                            env)
    one_error(proc, f"error: {locked / 'out'}: cannot create the output folder: permission denied")
    proc = run_unprivileged(["export", str(spec), "-p", "kubernetes", "-o", str(locked), *CLUSTER], env)
    one_error(proc, f"error: {locked}: cannot write ", "permission denied")
    assert list(locked.iterdir()) == []
