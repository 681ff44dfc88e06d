"""Whether a spec is portable across the targets `verify` judged, and where they differ.

A spec is portable across a set of targets when every one of them expresses it (its
check refuses nothing) and is equivalent to it. Where targets differ, the user needs to
see how at once: what one target refuses that others take (the check's problem gives
the reason and the fix), which flows a target does not govern (Kubernetes and flows
outside the cluster), and which flows a target adds on purpose. The last two are
differences by design: they are shown, and they do not make a spec unportable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudfence.errors import Problem

if TYPE_CHECKING:
    from cloudfence.render import Result


@dataclass(frozen=True)
class Refusal:
    """One place of the spec (a flow, a segment key, a setting) that some targets refuse."""

    where: str
    file: str | None
    line: int | None
    by: tuple[tuple[str, str], ...]  # (target, the check's problem: reason and fix)
    fine_on: tuple[str, ...]  # targets that express the spec and are equivalent; none for a setting

    @property
    def place(self) -> str:
        """The place as a problem prints it: file:line: where."""
        return str(Problem(self.where, "", self.file, self.line)).removesuffix(": ")

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "file": self.file, "line": self.line,
                "refusedBy": [{"target": t, "problem": m} for t, m in self.by],
                "fineOn": list(self.fine_on)}


@dataclass(frozen=True)
class Difference:
    """A flow that holds on some of the judged targets and not on the others."""

    flow: str
    on: tuple[str, ...]
    others: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "targets": list(self.on), "others": list(self.others)}


@dataclass(frozen=True)
class Portability:
    targets: tuple[str, ...]
    refused: tuple[Refusal, ...]
    different: tuple[str, ...]  # targets judged NOT equivalent
    not_governed: tuple[Difference, ...]
    implied: tuple[Difference, ...]
    short: Callable[[Iterable[str]], str]  # target labels, a provider's all by its name

    @property
    def portable(self) -> bool:
        return not self.refused and not self.different

    def to_json(self) -> dict[str, Any]:
        return {"portable": self.portable, "targets": list(self.targets),
                "refused": [r.to_json() for r in self.refused], "notEquivalent": list(self.different),
                "notGoverned": [d.to_json() for d in self.not_governed],
                "implied": [d.to_json() for d in self.implied]}


def portability(results: Sequence[Result]) -> Portability:
    labels = tuple(r.provider for r in results)
    judged = [r for r in results if r.verdict is not None]
    fine = tuple(r.provider for r in judged if r.verdict is not None and r.verdict.equivalent)
    places: dict[tuple[str, str | None, int | None], list[tuple[str, str]]] = {}
    for r in results:
        if r.verdict is None:
            for p in r.problems or [Problem("", "check failed")]:
                places.setdefault((p.where, p.file, p.line), []).append((r.provider, p.message))
    # A setting is the refusing target's own: no other target could be "fine" on it.
    refused = tuple(Refusal(w, f, n, tuple(by), () if _is_setting(w) else fine)
                    for (w, f, n), by in places.items())
    return Portability(
        targets=labels,
        refused=refused,
        different=tuple(r.provider for r in judged if r.verdict is not None and not r.verdict.equivalent),
        not_governed=_differences(judged, lambda r: r.verdict.not_governed if r.verdict else ()),
        implied=_differences(judged, lambda r: r.verdict.implied if r.verdict else ()),
        short=_shortener(results),
    )


def _is_setting(where: str) -> bool:
    return where.startswith(("settings.", "config."))


def _differences(judged: Sequence[Result],
                 flows: Callable[[Result], Iterable[str]]) -> tuple[Difference, ...]:
    """Flows in the list of some judged targets but not of all, in the order first seen."""
    on: dict[str, list[str]] = {}
    for r in judged:
        for flow in flows(r):
            on.setdefault(flow, []).append(r.provider)
    every = [r.provider for r in judged]
    return tuple(Difference(flow, tuple(ts), tuple(t for t in every if t not in ts))
                 for flow, ts in on.items() if len(ts) < len(every))


def _shortener(results: Sequence[Result]) -> Callable[[Iterable[str]], str]:
    """Target labels as text; when a list holds every target of one provider (its stack
    files, or its one target), the provider's name stands for them."""
    by_provider: dict[str, list[str]] = {}
    for r in results:
        by_provider.setdefault(r.name or r.provider, []).append(r.provider)

    def short(labels: Iterable[str]) -> str:
        wanted = list(labels)
        out: list[str] = []
        for name, own in by_provider.items():
            mine = [t for t in own if t in wanted]
            if mine and len(mine) == len(own):
                out.append(name)
            else:
                out += mine
        return ", ".join(out) or "none"

    return short


# ------------------------------------------------------------------ output


def portability_lines(p: Portability) -> list[str]:
    """The `portability:` section of `verify` with several targets."""
    n = len(p.targets)
    if p.portable:
        out = [f"portability: portable: each of the {n} targets ({p.short(p.targets)}) expresses the "
               "spec and is equivalent"]
    else:
        why = ([f"refused by {p.short(_refusers(p))}"] if p.refused else []) + (
            [f"NOT equivalent on {p.short(p.different)}"] if p.different else [])
        out = [f"portability: NOT portable across the {n} targets: {'; '.join(why)}"]
    for r in p.refused:
        fine = "" if _is_setting(r.where) else f", fine on {p.short(r.fine_on)}"
        out.append(f"  {r.place}: refused by {p.short(t for t, _ in r.by)}{fine}")
        out += [f"    {t}: {message}" for t, message in r.by]
    if p.different:
        out.append(f"  NOT equivalent on {p.short(p.different)}: the counterexamples above are packets "
                   "that differ from the spec")
    if p.not_governed or p.implied:
        out.append("  by design (shown, not a failure):")
        for (on, others), flows in grouped(p.not_governed).items():
            out.append(f"    not governed by {p.short(on)} (judged on {p.short(others)}):")
            out += [f"      {flow}" for flow in flows]
        for (on, _), flows in grouped(p.implied).items():
            out.append(f"    implied by {p.short(on)} only:")
            out += [f"      {flow}" for flow in flows]
    return out


def grouped(differences: Iterable[Difference]) -> dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]]:
    """Flows by the targets they hold on (and the others), in the order first seen."""
    out: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for d in differences:
        out.setdefault((d.on, d.others), []).append(d.flow)
    return out


def _refusers(p: Portability) -> list[str]:
    seen: list[str] = []
    for r in p.refused:
        seen += [t for t, _ in r.by if t not in seen]
    return seen
