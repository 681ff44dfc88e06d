"""Golden files: what a generator writes, reviewed as a diff when it changes."""

from __future__ import annotations

import os
from pathlib import Path


def assert_golden(path: Path, text: str, test_file: str) -> None:
    """Compare with the golden file; UPDATE_GOLDEN=1 rewrites it instead."""
    regenerate = f"UPDATE_GOLDEN=1 python -m pytest {test_file}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"golden file missing: run {regenerate}"
    assert text == path.read_text(), f"plan changed: review, then regenerate with {regenerate}"
