"""Sets of integers kept as sorted, disjoint, non-adjacent closed intervals.

Ports and IP addresses are both integers, so one small type serves both: the
cost of every operation grows with the number of intervals, never with the
number of ports or addresses they span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

Interval = tuple[int, int]


class IntervalSet:
    """An immutable, canonical set of integers; equal sets compare and hash equal."""

    __slots__ = ("_hash", "_iv")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._iv: tuple[Interval, ...] = _normalise(intervals)

    @classmethod
    def of(cls, lo: int, hi: int | None = None) -> IntervalSet:
        return cls(((lo, lo if hi is None else hi),))

    @property
    def intervals(self) -> tuple[Interval, ...]:
        return self._iv

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._iv)

    def __bool__(self) -> bool:
        return bool(self._iv)

    def __len__(self) -> int:
        return len(self._iv)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._iv == other._iv

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:  # computed once: sets key many of verify's maps
            self._hash: int = hash(self._iv)
            return self._hash

    def __repr__(self) -> str:
        return f"IntervalSet({list(self._iv)!r})"

    def __contains__(self, value: int) -> bool:
        lo_i, hi_i = 0, len(self._iv)
        while lo_i < hi_i:
            mid = (lo_i + hi_i) // 2
            lo, hi = self._iv[mid]
            if value < lo:
                hi_i = mid
            elif value > hi:
                lo_i = mid + 1
            else:
                return True
        return False

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self._iv)

    def __or__(self, other: IntervalSet) -> IntervalSet:
        a, b = self._iv, other._iv
        if not b:
            return self
        if not a:
            return other
        if a[-1][1] + 1 < b[0][0]:
            return _raw(a + b)  # apart, in order: already canonical
        if b[-1][1] + 1 < a[0][0]:
            return _raw(b + a)
        return _raw(_merge(a, b))

    def __and__(self, other: IntervalSet) -> IntervalSet:
        a, b = self._iv, other._iv
        if not a or not b or a[-1][1] < b[0][0] or b[-1][1] < a[0][0]:
            return EMPTY  # spans apart: the common case where rules name other hosts
        if a is b:
            return self
        if len(a) == 1 and len(b) == 1:
            return _raw([(max(a[0][0], b[0][0]), min(a[0][1], b[0][1]))])  # spans meet
        out: list[Interval] = []
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return _raw(out)

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        b = other._iv
        if not b or not self._iv or b[-1][1] < self._iv[0][0] or self._iv[-1][1] < b[0][0]:
            return self  # nothing of other within self's span
        if b is self._iv:
            return EMPTY
        out: list[Interval] = []
        j = 0
        for lo, hi in self._iv:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                if cur > hi:
                    break
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return _raw(out)

    def issubset(self, other: IntervalSet) -> bool:
        return not (self - other)

    def first(self) -> int:
        return self._iv[0][0]

    def boundaries(self) -> Iterator[int]:
        """Start points and one-past-end points: where membership can change."""
        for lo, hi in self._iv:
            yield lo
            yield hi + 1


def _raw(intervals: Iterable[Interval]) -> IntervalSet:
    s = IntervalSet.__new__(IntervalSet)
    s._iv = tuple(intervals)
    return s


def _merge(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> list[Interval]:
    """The union of two canonical interval tuples, by one merge of the sorted inputs."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and a[i][0] <= b[j][0]):
            lo, hi = a[i]
            i += 1
        else:
            lo, hi = b[j]
            j += 1
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    items = sorted((int(lo), int(hi)) for lo, hi in intervals)
    out: list[Interval] = []
    for lo, hi in items:
        if lo > hi:
            raise ValueError(f"reversed interval {lo}-{hi}")
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


EMPTY = IntervalSet()
