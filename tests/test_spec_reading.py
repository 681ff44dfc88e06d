"""The one-pass libyaml reading of a spec gives exactly what the careful reading
gives (data and the line of every key path), and leaves to it every document it
does not read the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence import spec
from cloudfence.errors import SpecError
from tests.strategies import examples

pytestmark = pytest.mark.skipif(spec._CParser is None, reason="PyYAML without libyaml")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("stacks/*/segments.yaml"))


def careful(text: str) -> tuple[Any, dict[Any, int]] | str:
    saved, spec._CParser = spec._CParser, None
    try:
        doc = spec.parse_document(text, "t.yaml")
        return doc.data, doc.lines
    except SpecError as err:
        return str(err)
    finally:
        spec._CParser = saved


def both(text: str) -> tuple[Any, Any]:
    try:
        doc = spec.parse_document(text, "t.yaml")
        fast: Any = (doc.data, doc.lines)
    except SpecError as err:
        fast = str(err)
    return fast, careful(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_examples_take_the_one_pass_reading_and_read_the_same(path: Path) -> None:
    text = path.read_text()
    assert spec._fast_load(text) is not None
    fast, slow = both(text)
    assert fast == slow


# Fragments a spec's author writes, and the ones that trip readers: flow and block
# collections, quoting, comments, empty values, tabs, anchors, tags, merge keys.
PIECES = ["a", "b", "web", "10.0.0.0/8", "tcp/80", "1", "0x1F", "1_000", "1.5", "~", "null", "yes",
          "true", "2024-01-01", "'q'", '"d\\x41"', "<<", "&x", "*x", "!!str", "!t", "!", "- ", ": ", ":",
          ", ", "[", "]", "{", "}", "#c", "\n", "\n  ", "\n    ", "\n- ", "\t", " ", "|", ">", "?",
          "---", "...", "%YAML 1.1\n", "%TAG ! tag:x,1:\n", "\ufeff", "é", "\x85", "\r", "\r\n",
          "'", '"', "\\", "x" * 1100, "-1", "+1", ".5", "0b101", "1:2", "=", "@a", "`"]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_text_reads_as_the_careful_reading_does(text: str) -> None:
    if not text.strip():
        return
    fast, slow = both(text)
    assert fast == slow


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=6), st.sampled_from(["<<", "~", "1e3", "0o17", ".inf", "No"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=20)


@settings(max_examples=examples(100), deadline=None)
@given(values, st.sampled_from([None, False, True]))
def test_any_dumped_document_reads_as_the_careful_reading_does(doc: object, flow: bool | None) -> None:
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True)
    fast, slow = both(text)
    assert fast == slow
