"""Pod segments (a `kubernetes` block): what the targets that select pods by
namespace and labels share. A selector written from one segment's labels picks
every pod carrying them, so two segments of one namespace whose labels nest
cannot be told apart by any of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from cloudfence.errors import Problem
from cloudfence.intent import Intent, KubernetesSelector


def pod_segments(intent: Intent) -> dict[str, KubernetesSelector]:
    """The segments whose members are pods (a `kubernetes` block)."""
    return {name: seg.kubernetes for name, seg in intent.segments.items() if seg.kubernetes is not None}


def overlapping_selectors(intent: Intent, segments: Iterable[str], what: str) -> list[Problem]:
    """Two pod segments in one namespace where one's labels are a subset of the other's:
    `what` of the first (its policy, its SecurityGroupPolicy) would select the second's pods."""
    pods = pod_segments(intent)
    by_namespace: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(segments) & set(pods)):
        by_namespace[pods[name].namespace].append(name)
    problems = []
    for a, b in sorted(pair for names in by_namespace.values() for pair in _nested(names, pods)):
        la, lb = set(pods[a].labels), set(pods[b].labels)
        wide, narrow = (a, b) if la <= lb else (b, a)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(dict(pods[wide].labels).items()))
        where = f"segments.{wide}.kubernetes"
        problems.append(Problem(where, (
            f"labels {{{shown}}} of segment '{wide}' also select the pods of segment '{narrow}' "
            f"in namespace '{pods[wide].namespace}', so {what} of '{wide}' would apply to them too: "
            f"give '{wide}' a label that '{narrow}' pods do not carry (e.g. "
            f"cloudfence.io/segment: {wide})"), intent.file, intent.lines.get(where)))
    return problems


def _nested(names: list[str], pods: dict[str, KubernetesSelector]) -> set[tuple[str, str]]:
    """The pairs (a, b), a before b in `names`, whose label sets nest. Each segment meets
    only the segments carrying all its labels (an index per label), not every other one
    of its namespace: a namespace of many segments with labels of their own costs no pairs."""
    order = {name: i for i, name in enumerate(names)}
    holding: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name in names:
        for item in pods[name].labels:
            holding[item].add(name)
    pairs: set[tuple[str, str]] = set()
    for a in names:
        labels = list(pods[a].labels)
        wider = set(names) if not labels else set.intersection(*(holding[item] for item in labels))
        for b in wider - {a}:
            pairs.add((a, b) if order[a] < order[b] else (b, a))
    return pairs
