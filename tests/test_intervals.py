"""Interval sets behave exactly like the integer sets they stand for."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.intervals import IntervalSet

ivs = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)).map(lambda t: (t[0], t[0] + t[1])),
               max_size=6)


def as_set(s: IntervalSet) -> set[int]:
    return {v for lo, hi in s for v in range(lo, hi + 1)}


def raw(items: list[tuple[int, int]]) -> set[int]:
    return {v for lo, hi in items for v in range(lo, hi + 1)}


@settings(max_examples=300, deadline=None)
@given(ivs, ivs)
def test_operations_match_python_sets(a: list, b: list) -> None:
    sa, sb = IntervalSet(a), IntervalSet(b)
    assert as_set(sa) == raw(a)
    assert as_set(sa | sb) == raw(a) | raw(b)
    assert as_set(sa & sb) == raw(a) & raw(b)
    assert as_set(sa - sb) == raw(a) - raw(b)
    assert sa.issubset(sb) == (raw(a) <= raw(b))
    assert all((v in sa) == (v in raw(a)) for v in range(0, 75))


@settings(max_examples=200, deadline=None)
@given(ivs)
def test_canonical_form_is_unique(a: list) -> None:
    s = IntervalSet(a)
    assert IntervalSet(reversed(a)) == s
    assert IntervalSet([(v, v) for v in sorted(raw(a))]) == s
    for (_, hi), (lo, _) in zip(s.intervals, s.intervals[1:], strict=False):
        assert lo > hi + 1  # disjoint and not adjacent


def test_reversed_interval_is_rejected() -> None:
    import pytest

    with pytest.raises(ValueError):
        IntervalSet([(5, 3)])
