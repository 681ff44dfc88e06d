"""The collector is paused during check, compile and verify, and back as it was
afterwards, even when the work fails."""

import gc

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
