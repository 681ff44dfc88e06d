"""`verify --format markdown`: the verdicts as GitHub-flavoured Markdown, for a CI job
summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.

The same content as the table output: the targets table, where the targets differ,
then per target its counterexamples in view and its assumptions, implied and
ungoverned flows folded away (a reviewer opens them when the verdict needs them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cloudfence.portability import Portability, grouped, portability
from cloudfence.render import COUNTEREXAMPLE_HEADERS, VERDICT_HEADERS, Result, count, counterexample_rows


def cell(value: Any) -> str:
    """A table cell: `-` for nothing, pipes escaped, one line."""
    text = "-" if value is None else " ".join(str(value).split())
    return text.replace("|", "\\|")


def code(text: str) -> str:
    """Inline code, unless the text holds a backtick (then plain, escaped)."""
    return f"`{text}`" if "`" not in text else cell(text)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> list[str]:
    out = ["| " + " | ".join(h.lower() for h in headers) + " |",
           "|" + "|".join("---:" if i in numeric else "---" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _outcome(r: Result) -> str:
    return r.outcome if r.verdict is not None and r.verdict.equivalent else f"**{r.outcome}**"


def verdicts_markdown(results: Sequence[Result], spec: str) -> str:
    out = [f"### cloudfence verify: `{spec}`", ""]
    rows = [(r.provider, r.resources, r.rules, _outcome(r), *r.row()[4:]) for r in results]
    out += [*md_table(VERDICT_HEADERS, rows, numeric=(1, 2, 4, 5)), ""]
    out += _portability(portability(results))
    for r in results:
        out += ["", *_target(r)]
    text = "\n".join(out).rstrip() + "\n"
    # An HTML block runs to the next blank line: end with one, so that Markdown appended
    # to the same summary (diff's) is not read as part of it.
    return text + "\n" if text.endswith("</details>\n") else text


def _portability(p: Portability) -> list[str]:
    n = len(p.targets)
    if p.portable:
        who = p.targets[0] if n == 1 else f"each of the {n} targets ({p.short(p.targets)})"
        out = [f"**Portable**: {who} expresses the spec and is equivalent."]
    else:
        where = f"on {p.targets[0]}" if n == 1 else f"across the {n} targets"
        out = [f"**Not portable** {where}."]
    items = []
    for r in p.refused:
        fine = f", fine on {p.short(r.fine_on)}" if r.fine_on else ""
        items.append(f"- {code(r.place)}: refused by {p.short(t for t, _ in r.by)}{fine}")
        items += [f"  - {t}: {cell(message)}" for t, message in r.by]
    if p.different:
        items.append(f"- NOT equivalent on {p.short(p.different)}: see the counterexamples below")
    for (on, others), flows in grouped(p.not_governed).items():
        items.append(f"- not governed by {p.short(on)}, judged on {p.short(others)} (by design): "
                     f"{', '.join(map(code, flows))}")
    for (on, _), flows in grouped(p.implied).items():
        items.append(f"- implied by {p.short(on)} only (by design): {', '.join(map(code, flows))}")
    return out + (["", *items] if items else [])


def _target(r: Result) -> list[str]:
    v = r.verdict
    if v is None:
        return [f"#### {r.provider}: cannot express", "", *(f"- {cell(p)}" for p in r.problems)]
    classes = count(v.connections, "connection class", "connection classes")
    out = [f"#### {r.provider}: {r.outcome} ({classes}, {count(r.judged, 'flow')} judged)", ""]
    if not v.equivalent:
        out += md_table(COUNTEREXAMPLE_HEADERS, counterexample_rows(v), numeric=(5,))
        if v.total_differences > len(v.counterexamples):
            out.append(f"\n{v.total_differences - len(v.counterexamples)} more (`--format json` lists the "
                       "same first ones).")
        out.append("")
    notes = [f"- implied by {r.provider}: {code(f)}" for f in v.implied]
    notes += [f"- not governed by {r.provider}: {code(f)}" for f in v.not_governed]
    notes += [f"- assumes: {cell(a)}" for a in v.assumptions]
    folded = [count(n, what) + after for n, what, after in (
        (len(v.assumptions), "assumption", ""), (len(v.implied), "implied flow", ""),
        (len(v.not_governed), "flow", " not governed")) if n]
    if notes:
        out += [f"<details><summary>{', '.join(folded)}</summary>", "", *notes, "", "</details>"]
    return out
