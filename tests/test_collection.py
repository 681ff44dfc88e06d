"""The collector runs less often during check, compile and verify, and its thresholds
are back as they were afterwards, even when the work fails."""

import gc

import pytest

from cloudfence.collection import YOUNG, fewer_collections


def test_thresholds_raised_within_and_restored_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold()[0] >= YOUNG
        assert gc.get_threshold()[1:] == before[1:]
        raise RuntimeError("check failed")
    assert gc.get_threshold() == before


def test_nested_use_keeps_the_outer_setting() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        outer = gc.get_threshold()
        with fewer_collections():
            pass
        assert gc.get_threshold() == outer
    assert gc.get_threshold() == before
