"""Fuzz: random documents, random bytes and random file-system conditions,
through the CLI as a user would call it, never end in a traceback or an
internal error: every run exits 0, 1 or 2, and whatever lands on stderr is
`error:` or `warning:` lines.

In process (click's runner) so hypothesis can try hundreds of cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cloudfence.cli import main
from cloudfence.errors import SpecError
from cloudfence.intent import build_intent
from cloudfence.lint import lint
from cloudfence.spec import parse_spec
from tests.fakeplugin import EXAMPLE
from tests.strategies import examples
from tests.test_spec_fuzz import near_valid, values

EXAMPLES = examples(100)
GOOD = EXAMPLE.read_text()


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(st.one_of(near_valid, values))
def test_warnings_of_any_valid_document_are_placed_problems(doc: object) -> None:
    try:
        spec = parse_spec(yaml.safe_dump(doc), "fuzz.yaml")
        intent = build_intent(spec)
    except SpecError:
        return
    for warning in lint(spec, intent):
        assert str(warning).startswith("fuzz.yaml") and "\n" not in str(warning)


# What a path may be when the CLI reaches it.
def _make(root: Path, kind: str, content: bytes) -> Path:
    path = root / "target"
    if kind == "file":
        path.write_bytes(content)
    elif kind == "folder":
        path.mkdir()
        (path / "inside.yaml").write_bytes(content)
    elif kind == "under-a-file":
        path.write_bytes(content)
        path = path / "below"
    elif kind == "symlink-loop":
        path.symlink_to(path)
    elif kind == "dangling-symlink":
        path.symlink_to(root / "nowhere")
    elif kind == "fifo-like":
        path = Path("/dev/null")
    return path


KINDS = ["missing", "file", "file", "file", "folder", "under-a-file", "symlink-loop", "dangling-symlink",
         "fifo-like"]
contents = st.one_of(
    st.just(GOOD.encode()),
    st.builds(lambda d: yaml.safe_dump(d).encode(), st.one_of(near_valid, values)),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda n: (GOOD + "x: " + "[" * n + "]" * n + "\n").encode(), st.integers(0, 2000)),
    st.builds(lambda t: GOOD.replace("tcp/443", t).encode(), st.sampled_from(
        ["tcp/٤٤٣", "tcp/443 ", "!!python/object {}", "https", "443", "[tcp/1, 2]", "'\\n'"])),
)
VERBS = [["validate", "{spec}"], ["validate", "{spec}", "--strict"], ["plan", "{spec}", "-p", "kubernetes"],
         ["plan", "{spec}", "-p", "aws", "--format", "json"], ["verify", "{spec}", "-p", "kubernetes"],
         ["export", "{spec}", "-p", "kubernetes", "-o", "{out}"],
         ["plan", "{good}", "-p", "kubernetes", "--settings", "{spec}"],
         ["export", "{good}", "-p", "kubernetes", "-o", "{spec}"]]


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # large inputs shrink slowly
@given(verb=st.sampled_from(VERBS), kind=st.sampled_from(KINDS), content=contents)
def test_no_traceback_for_any_path_or_content(tmp_path_factory: pytest.TempPathFactory, verb: list[str],
                                              kind: str, content: bytes) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    good = root / "good.yaml"
    good.write_text(GOOD)
    path = root / "target" if kind == "missing" else _make(root, kind, content)
    args = [a.format(spec=path, good=good, out=root / "out") for a in verb]
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    for line in result.stderr.splitlines():
        assert line.startswith(("error: ", "warning: ")) or (
            args[0] == "export" and (" written to " in line or line.startswith("removed "))), \
            (args, result.stderr)
    assert "internal error" not in result.stderr
