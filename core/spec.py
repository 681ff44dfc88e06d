"""Read a spec file safely and check its shape (DESIGN section 3).

Reading is defensive because specs arrive from review branches: size limits,
no YAML aliases (an alias bomb is refused before anything is expanded), no
duplicate keys (YAML would silently keep the last one), and every problem
carries the file, the line and the key path.
"""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cloudfence.collection import fewer_collections
from cloudfence.errors import Problem, SpecError, did_you_mean

MAX_SPEC_BYTES = 1_000_000
SUPPORTED_VERSIONS = (1,)
Path_ = tuple[str | int, ...]


# ---------------------------------------------------------------- YAML layer


class Document:
    """Plain data from YAML plus the line each key path starts on."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str):
        self.data = data
        self.lines = lines
        self.file = file

    def line(self, path: Path_) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(format_path(path), message, self.file, self.line(path))


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


STDIN = "-"
STDIN_NAME = "<stdin>"


def read_document(path: str | Path) -> Document:
    """Read a spec file, or standard input for `-` (as kubectl does)."""
    if str(path) == STDIN:
        return parse_document(read_stdin(), STDIN_NAME)
    return parse_document(read_text_file(path, "spec"), str(path))


def read_stdin(what: str = "spec") -> str:
    try:
        data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError, AttributeError) as exc:
        raise SpecError(Problem("", f"cannot read the {what} from standard input: {_why(exc)}",
                                STDIN_NAME)) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(Problem("", f"{what} is over the {MAX_SPEC_BYTES:,}-byte limit: split it or remove "
                                "generated content", STDIN_NAME))
    return _decode(data, what, STDIN_NAME)


def read_text_file(path: str | Path, what: str, limit: int = MAX_SPEC_BYTES) -> str:
    """The text of a small UTF-8 file, or a one-line error that says what is wrong
    with the path (missing, a folder, unreadable, too big, binary)."""
    p = Path(path)
    name = str(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SpecError(Problem("", f"{what} file not found: check the path", name)) from None
    except NotADirectoryError:
        raise SpecError(Problem("", f"{what} file not found: a part of the path is a file, not a folder",
                                name)) from None
    except (OSError, ValueError) as exc:
        raise SpecError(Problem("", f"cannot read the {what} file: {_why(exc)}", name)) from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(Problem("", f"is a folder: give the path of a {what} YAML file", name))
    if not stat.S_ISREG(st.st_mode):
        raise SpecError(Problem("", f"not a regular file: give the path of a {what} YAML file "
                                "(or '-' for standard input)", name))
    if st.st_size > limit:
        raise SpecError(
            Problem("", f"{what} is {st.st_size:,} bytes, over the {limit:,}-byte limit: "
                    "split it or remove generated content", name)
        )
    try:
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SpecError(Problem("", f"cannot read the {what} file: {_why(exc)}", name)) from None
    if len(data) > limit:
        raise SpecError(Problem("", f"{what} is over the {limit:,}-byte limit", name))
    return _decode(data, what, name)


def _why(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (check the file's owner and mode)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _decode(data: bytes, what: str, name: str) -> str:
    if b"\0" in data:
        raise SpecError(Problem("", f"{what} holds NUL bytes: it is a binary file, not YAML text", name))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(Problem("", f"{what} is not UTF-8 text", name)) from None


class _CoreLoader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: `2024-01-01` is text, as in the
    YAML core schema, not a date that no field of a spec takes."""


_CoreLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

CORE_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "str", "seq", "map"))
MAX_DEPTH = 32  # a spec is at most six levels deep; the bound keeps the recursive composer safe


@fewer_collections()
def parse_document(text: str, file: str = "<spec>") -> Document:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError(Problem("", f"spec is over the {MAX_SPEC_BYTES:,}-byte limit", file))
    if not text.strip():
        raise SpecError(Problem("", "spec is empty: start with 'version: 1'", file))
    fast = _fast_load(text)
    if fast is not None:
        return Document(fast[0], fast[1], file)
    node = _compose(text, file)
    if node is None:
        raise SpecError(Problem("", "spec is empty: start with 'version: 1'", file))
    lines: dict[Path_, int] = {}
    data = _to_python(node, (), lines, file)
    return Document(data, lines, file)


def _compose(text: str, file: str) -> yaml.Node | None:
    """The YAML node tree, once the event scan has found nothing unsafe in it; every
    YAML error becomes one problem with its line."""
    try:
        _scan_events(text, file)
        return yaml.compose(text, Loader=_CoreLoader)
    except yaml.reader.ReaderError as exc:
        raise SpecError(Problem("", f"not YAML text: character {exc.character!r} at position "
                                f"{exc.position} is not allowed (is it a binary file?)", file)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        raise SpecError(Problem("", f"malformed YAML: {what}", file, line)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem("", f"malformed YAML: {exc}", file)) from None


def _scan_events(text: str, file: str) -> None:
    """Refuse aliases, foreign tags, several documents and deep nesting before any
    node is composed, so an alias bomb or a deeply nested document costs one linear
    pass over a small file and never reaches the recursive composer."""
    documents = 0
    depth = 0
    for event in yaml.parse(text, Loader=_CoreLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise SpecError(Problem("", "YAML aliases (*name) are not allowed in a spec: "
                                    "write the value out", file, line))
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise SpecError(Problem("", "more than one YAML document: keep one spec per file",
                                        file, line))
        if (shown := _foreign_tag(event)) is not None:
            raise SpecError(Problem("", f"YAML tag '{shown}' is not allowed: a spec holds plain "
                                    "text, numbers, booleans, lists and mappings; remove the tag",
                                    file, line))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(Problem("", f"nested more than {MAX_DEPTH} levels deep: a spec is a "
                                        "few levels of mappings and lists", file, line))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _foreign_tag(event: yaml.Event) -> str | None:
    """An explicit tag outside the core schema, as the spec's author wrote it (`!!x`
    for the YAML tags), or None: a spec holds plain data only."""
    tag = getattr(event, "tag", None)
    if tag is None or tag == "!" or tag in CORE_TAGS:
        return None
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else str(tag)


_constructor = yaml.constructor.SafeConstructor()


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError(Problem(format_path(path), "keys must be plain text", file,
                                        key_node.start_mark.line + 1))
            key = str(key_node.value)
            if key == "<<":
                raise SpecError(Problem(format_path(path), "YAML merge keys (<<) are not allowed: "
                                        "write the keys out", file, key_node.start_mark.line + 1))
            if key in out:
                raise SpecError(Problem(format_path((*path, key)),
                                        f"duplicate key '{key}': each name may appear once", file,
                                        key_node.start_mark.line + 1))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*path, i), lines, file) for i, v in enumerate(node.value)]
    try:
        return _constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise SpecError(Problem(format_path(path), f"cannot read value: {exc}", file,
                                node.start_mark.line + 1)) from None


# ------------------------------------------------------- fast path (libyaml)

_CParser: Any
try:
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml: the careful path alone
    _CParser = None


class _Careful(Exception):
    """The document needs the careful path: it is malformed, refused, or unusual."""


class _CoreResolver(yaml.resolver.Resolver):
    yaml_implicit_resolvers = _CoreLoader.yaml_implicit_resolvers


_resolver = _CoreResolver()
_STR = "tag:yaml.org,2002:str"
# Tabs, byte order marks and the Unicode line breaks: where PyYAML and libyaml part ways.
_UNUSUAL = re.compile("[\t\ufeff\x85\u2028\u2029]")


def _fast_load(text: str) -> tuple[Any, dict[Path_, int]] | None:
    """Data and key-path lines of a plain, well-formed document in one pass over
    libyaml's events, or None: then the careful path below reads the document again
    and gives every refusal and error exactly as it always has. The pass accepts only
    what the careful path accepts the same way: no alias, anchor or explicit tag, one
    document, no merge or duplicate or non-scalar key, at most MAX_DEPTH levels."""
    if _CParser is None or _UNUSUAL.search(text):
        return None
    parser = _CParser(text)
    try:
        return _build(parser)
    except Exception:  # any surprise at all goes the careful way
        return None
    finally:
        parser.dispose()


def _node_value(event: Any) -> Any:
    tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    if tag == _STR:
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    return _constructor.yaml_constructors[tag](_constructor, node)


_SKIP = (yaml.StreamStartEvent, yaml.DocumentEndEvent, yaml.StreamEndEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)


def _build(parser: Any) -> tuple[Any, dict[Path_, int]]:
    tree = _Tree()
    documents = 0
    while parser.check_event():
        event = parser.get_event()
        kind = type(event)
        if kind is yaml.DocumentStartEvent:
            documents += 1
        elif kind in _ENDS:
            tree.stack.pop()
        elif kind not in _SKIP:
            if kind is yaml.AliasEvent or event.anchor is not None or event.tag is not None:
                raise _Careful
            tree.add(event, kind)
    if len(tree.root) != 1 or documents != 1:
        raise _Careful
    return tree.root[0], tree.lines


class _Tree:
    """Plain data and the line of each key path, built event by event as `_to_python`
    builds them from nodes."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.root: list[Any] = []
        # One frame per open collection: [container, its path, the key awaiting a value].
        self.stack: list[list[Any]] = [[self.root, (), None]]

    def add(self, event: Any, kind: type) -> None:
        frame = self.stack[-1]
        container, path, key = frame
        line = event.start_mark.line + 1
        if type(container) is dict:
            if key is None:  # the event is a key
                if kind is not yaml.ScalarEvent or event.value == "<<" or event.value in container:
                    raise _Careful
                self.lines[(*path, event.value)] = line
                frame[2] = event.value
                return
            frame[2] = None
        elif len(self.stack) > 1:
            key = len(container)
        elif self.root or kind is not yaml.MappingStartEvent:  # a spec is one mapping
            raise _Careful
        if key is not None:
            path = (*path, key)
        self.lines.setdefault(path, line)
        value: Any
        if kind is yaml.ScalarEvent:
            value = _node_value(event)
        elif kind in _STARTS and len(self.stack) <= MAX_DEPTH:
            value = {} if kind is yaml.MappingStartEvent else []
            self.stack.append([value, path, None])
        else:
            raise _Careful
        if type(container) is dict:
            container[key] = value
        else:
            container.append(value)


# ------------------------------------------------------------------ shape


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _network_form(value: Any) -> Any:
    if isinstance(value, str):
        return {"include": [value]}
    if isinstance(value, list):
        return {"include": value}
    return value


OneOrMany = Annotated[list[str], BeforeValidator(_one_or_many)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class KubernetesModel(_Model):
    namespace: str
    labels: dict[str, str] = Field(default_factory=dict)


class SegmentModel(_Model):
    description: str | None = None
    kubernetes: KubernetesModel | None = None
    cidr: OneOrMany = Field(default_factory=list)


class NetworkModel(_Model):
    include: list[str]
    exclude: list[str] = Field(default_factory=list)


NetworkValue = Annotated[NetworkModel, BeforeValidator(_network_form)]


class FlowModel(_Model):
    from_: OneOrMany = Field(alias="from")
    to: OneOrMany
    ports: OneOrMany
    description: str | None = None


class SpecModel(_Model):
    version: int
    name: str
    description: str | None = None
    segments: dict[str, SegmentModel]
    networks: dict[str, NetworkValue] = Field(default_factory=dict)
    services: dict[str, OneOrMany] = Field(default_factory=dict)
    flows: list[FlowModel] = Field(default_factory=list)


_ALLOWED_KEYS: dict[type[BaseModel], list[str]] = {
    m: [f.alias or n for n, f in m.model_fields.items()]
    for m in (KubernetesModel, SegmentModel, NetworkModel, FlowModel, SpecModel)
}

_ONE_OR_MANY = {"from", "to", "ports", "cidr"}
_EXPECTED = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of keys to values",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "bool_type": "expected true or false",
}


class Spec:
    """A spec whose shape is valid; names and values are checked by cloudfence.intent."""

    def __init__(self, model: SpecModel, doc: Document):
        self.model = model
        self.doc = doc

    @property
    def file(self) -> str:
        return self.doc.file

    def problem(self, path: Path_, message: str) -> Problem:
        return self.doc.problem(path, message)


def load_spec(path: str | Path) -> Spec:
    return validate_document(read_document(path))


def parse_spec(text: str, file: str = "<spec>") -> Spec:
    return validate_document(parse_document(text, file))


@fewer_collections()
def validate_document(doc: Document) -> Spec:
    data = doc.data
    if not isinstance(data, Mapping):
        raise SpecError(doc.problem((), "a spec is a mapping that starts with 'version: 1'"))
    if "version" not in data:
        raise SpecError(doc.problem((), "missing 'version': add 'version: 1' at the top"))
    version = data["version"]
    if isinstance(version, str) and version.strip() in {str(v) for v in SUPPORTED_VERSIONS}:
        raise SpecError(doc.problem(("version",), f"version is the text {version!r}: write the number "
                                    f"{version.strip()} without quotes (version: {version.strip()})"))
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise SpecError(doc.problem(("version",), f"unsupported version {version!r}: "
                                    "this cloudfence reads version 1"))
    try:
        model = SpecModel.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, doc)) from None
    return Spec(model, doc)


def _pydantic_problems(exc: ValidationError, doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[Path_] = set()
    for err in exc.errors():
        loc: Path_ = tuple(err["loc"])
        # Validators wrapping a type add their own step (e.g. "function-before[...]"): drop it.
        loc = tuple(p for p in loc if not (isinstance(p, str) and (("[" in p and "(" in p) or
                                                                       p.startswith("function-"))))
        if loc in seen:
            continue
        seen.add(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1])
            allowed = _ALLOWED_KEYS.get(model, []) if model else []
            hint = did_you_mean(key, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
            problems.append(doc.problem(loc, f"unknown key '{key}'{hint}"))
        elif kind == "missing":
            problems.append(doc.problem(loc[:-1], f"missing required key '{loc[-1]}'"))
        else:
            got = err.get("input")
            instead = _instead(loc, got)
            if instead:
                problems.append(doc.problem(loc, instead))
                continue
            what = _EXPECTED.get(kind, err["msg"])
            if kind == "list_type" and loc and (loc[-1] in _ONE_OR_MANY or loc[0] == "services"):
                what = "expected one value or a list of values"
            elif loc[:1] == ("networks",) and len(loc) == 2:
                what = "expected a list of CIDRs, or a mapping with 'include' and 'exclude'"
            shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            problems.append(doc.problem(loc, f"{what}, got {shown}"))
    return problems


def _is_port_place(loc: Path_) -> bool:
    """services.NAME, services.NAME[i], flows[i].ports, flows[i].ports[j]."""
    if loc[:1] == ("services",):
        return len(loc) == 2 or (len(loc) == 3 and isinstance(loc[2], int))
    if loc[:1] == ("flows",) and len(loc) >= 3 and loc[2] == "ports":
        return len(loc) == 3 or (len(loc) == 4 and isinstance(loc[3], int))
    return False


def _instead(loc: Path_, got: Any) -> str | None:
    """For a value of the wrong type that has an obvious right spelling, the
    message that says what to write instead."""
    number = isinstance(got, int) and not isinstance(got, bool)
    if _is_port_place(loc) and number:
        return (f"a port needs its protocol: write tcp/{got} (or udp/{got}, sctp/{got}) instead of {got}")
    if _is_port_place(loc) and isinstance(got, list) and got and all(
            isinstance(x, int) and not isinstance(x, bool) for x in got):
        return f"a port needs its protocol: write [{', '.join(f'tcp/{x}' for x in got)}]"
    if len(loc) == 5 and loc[0] == "segments" and loc[2:4] == ("kubernetes", "labels") and (
            isinstance(got, (int, float, bool)) or got is None):
        text = "" if got is None else str(got).lower() if isinstance(got, bool) else str(got)
        return (f"label values are text: quote it ({loc[4]}: '{text}'), or YAML reads it as "
                f"{type(got).__name__ if got is not None else 'null'}")
    return None


def _model_at(loc: Path_) -> type[BaseModel] | None:
    if not loc:
        return SpecModel
    head = loc[0]
    if head == "segments":
        if len(loc) == 2:
            return SegmentModel
        if len(loc) == 3 and loc[2] == "kubernetes":
            return KubernetesModel
    if head == "networks" and len(loc) == 2:
        return NetworkModel
    if head == "flows" and len(loc) == 2:
        return FlowModel
    return None


# Lowercase, digits and single hyphens, no trailing hyphen: valid as a
# Kubernetes label value and inside cloud resource names.
NAME_RE = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")
