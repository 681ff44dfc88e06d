"""Compile every corpus case in this (fresh) interpreter: the determinism check's other side.

Reads {"module", "cls", "settings": {case: raw settings}} on stdin, prints {case: golden text}.
"""

from __future__ import annotations

import importlib
import json
import sys

from cloudfence.testing import Conformance


def main() -> None:
    job = json.load(sys.stdin)
    kind = getattr(importlib.import_module(job["module"]), job["cls"])
    kit = Conformance(kind(), settings_for=lambda case: job["settings"][case])
    json.dump({c: kit.golden(c) for c in job["settings"]}, sys.stdout)


if __name__ == "__main__":
    main()
