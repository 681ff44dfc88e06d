"""Type-check the package as it installs: `cloudfence` (core/) and `cloudfence.providers`
(providers/). mypy cannot follow setuptools' package-dir mapping, so this lays the two
folders out under their import names with symlinks in a scratch directory and checks
that: strict on the core, the project's defaults on the providers (pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout(into: Path) -> Path:
    package = into / "cloudfence"
    for src in sorted((ROOT / "core").rglob("*")):
        if "__pycache__" in src.parts or src.is_dir():
            continue
        dest = package / src.relative_to(ROOT / "core")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(src)
    (package / "providers").symlink_to(ROOT / "providers", target_is_directory=True)
    return package


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cloudfence-typecheck-") as tmp:
        layout(Path(tmp))
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(ROOT / ".mypy_cache"), "-p", "cloudfence"]
        proc = subprocess.run(cmd, cwd=tmp, env={**os.environ, "MYPYPATH": tmp}, capture_output=True,
                              text=True)
        out = proc.stdout.replace(f"{tmp}/", "")  # back to the folders the code lives in
        sys.stdout.write(out.replace("cloudfence/providers/", "providers/").replace("cloudfence/", "core/"))
        sys.stderr.write(proc.stderr)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
