"""Whatever the file holds, reading it ends in an intent or a SpecError with
places and fixes, never another exception (which the CLI would show as a
traceback)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.errors import SpecError
from cloudfence.intent import parse_intent
from tests.strategies import examples

KEYS = ["version", "name", "segments", "networks", "services", "flows", "from", "to", "ports",
        "cidr", "kubernetes", "namespace", "labels", "include", "exclude", "description",
        "web", "db", "internet", "@cluster-dns", "tcp/80", "any", "10.0.0.0/8", "Web", ""]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False),
                    st.sampled_from(KEYS), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=25)
near_valid = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 2, "1", None]), "name": st.sampled_from(["demo", "Demo", "", 3]),
     "segments": values},
    optional={"networks": values, "services": values, "flows": values})


@settings(max_examples=examples(200))
@given(st.one_of(near_valid, values))
def test_any_document_gives_an_intent_or_a_spec_error(doc: object) -> None:
    text = yaml.safe_dump(doc)
    try:
        parse_intent(text, "fuzz.yaml")
    except SpecError as err:
        assert err.problems and all(str(p).startswith("fuzz.yaml") for p in err.problems)


@settings(max_examples=examples(150))
@given(st.text(max_size=60))
def test_any_text_gives_an_intent_or_a_spec_error(text: str) -> None:
    try:
        parse_intent("version: 1\nname: demo\n" + text, "fuzz.yaml")
    except SpecError as err:
        assert err.problems
