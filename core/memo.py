"""Results remembered for the very same immutable inputs.

`checked_plan` hands one intent and one validated settings object to a provider's
check and then to its compile, and both derive the same rules from them (the quota
checks count what compile writes): `remembered` lets that derivation run once. An
intent and validated settings are immutable, so the same objects give the same
result; inputs are compared by identity, so nothing large is hashed. A settings model
is frozen only at its top level (a dict or list inside it can still be changed in
place), so a model argument must also dump to the same JSON as when remembered. The
last few calls are kept together with their inputs, so an identity cannot pass to
another object while it is remembered. Callers treat a remembered result as read-only.

`PerValue` is the other kind: a reading of plan values (a port list, a peer, a selector)
done once per distinct value, since one service's or one segment's values recur in many
records. There the key is the arguments' `repr`, which tells apart everything a record
may hold (lists from tuples, 1 from True and from "1"); the same mapping with its keys in
another order is merely read twice.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
KEEP = 4  # calls remembered per function: a check and its compile need one


def remembered(fn: Callable[P, R]) -> Callable[P, R]:
    calls: list[tuple[tuple[Any, ...], tuple[str | None, ...], R]] = []

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs:  # remembered by position only
            return fn(*args, **kwargs)
        dumps: tuple[str | None, ...] | None = None
        for seen, seen_dumps, result in list(calls):
            if len(seen) == len(args) and all(a is b for a, b in zip(seen, args, strict=True)):
                dumps = _dumps(args) if dumps is None else dumps
                if dumps == seen_dumps:
                    return result
        result = fn(*args, **kwargs)
        calls.insert(0, (args, _dumps(args) if dumps is None else dumps, result))
        del calls[KEEP:]
        return result

    return wrapper


def _dumps(args: tuple[Any, ...]) -> tuple[str | None, ...]:
    """The JSON of each settings model among the arguments (what a shallow freeze lets change)."""
    return tuple(dump() if callable(dump := getattr(a, "model_dump_json", None)) else None for a in args)


class PerValue(Generic[P, R]):
    """`read` once per distinct argument value (by `repr`), for one plan's reading."""

    def __init__(self, read: Callable[P, R]) -> None:
        self._read = read
        self.found: dict[str, R] = {}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        # Positional calls are the common case; a tuple's repr starts with "(", never "kw".
        key = repr(args) if not kwargs else "kw" + repr((args, kwargs))
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = self._read(*args, **kwargs)
        return found
