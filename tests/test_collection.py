"""The collector is paused during check, compile and verify, and back as it was
afterwards, even when the work fails; the command line keeps it off to the end."""

import gc
import subprocess
import sys

import pytest

from cloudfence.collection import fewer_collections


def test_paused_within_and_restored_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), fewer_collections():
        assert not gc.isenabled()
        raise RuntimeError("check failed")
    assert gc.isenabled()


def test_nested_use_keeps_the_outer_pause() -> None:
    with fewer_collections():
        with fewer_collections():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_caller_paused_stays_paused() -> None:
    gc.disable()
    try:
        with fewer_collections():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_spec_read_and_intent_build_run_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudfence import intent

    seen = []
    real = intent._Builder.build

    def build(self: intent._Builder) -> intent.Intent:
        seen.append(gc.isenabled())
        return real(self)

    from cloudfence import spec

    read, validate = spec._fast_load, spec.SpecModel.model_validate

    def fast_load(text: str) -> object:
        seen.append(gc.isenabled())
        return read(text)

    def model_validate(data: object) -> object:
        seen.append(gc.isenabled())
        return validate(data)

    monkeypatch.setattr(intent._Builder, "build", build)
    monkeypatch.setattr(spec, "_fast_load", fast_load)
    monkeypatch.setattr(spec.SpecModel, "model_validate", model_validate)
    intent.parse_intent("version: 1\nname: t\nsegments:\n  a: {cidr: 10.0.0.0/24}\n")
    assert seen == [False, False, False] and gc.isenabled()


PROCESS = """
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
from cloudfence.collection import paused_for_process
paused_for_process()
print("enabled:", gc.isenabled())
"""


def test_a_command_runs_with_the_collector_off_and_freezes_what_is_left_at_exit() -> None:
    done = subprocess.run([sys.executable, "-c", PROCESS], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["enabled: False", "frozen at exit: True"]


def test_the_cloudfence_command_is_the_paused_entry_point() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "cloudfence"]
    assert script.value == "cloudfence.cli:run"
