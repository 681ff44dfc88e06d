"""Read a spec file safely and check its shape (DESIGN section 3).

Reading is defensive because specs arrive from review branches: size limits,
no YAML aliases (an alias bomb is refused before anything is expanded), no
duplicate keys (YAML would silently keep the last one), and every problem
carries the file, the line and the key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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


def read_document(path: str | Path) -> Document:
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise SpecError(Problem("", "spec file not found: check the path", name))
    if not p.is_file():
        raise SpecError(Problem("", "not a file: give the path of a spec YAML file", name))
    size = p.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            Problem("", f"spec is {size:,} bytes, over the {MAX_SPEC_BYTES:,}-byte limit: "
                    "split it or remove generated content", name)
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(Problem("", "spec is not UTF-8 text", name)) from None
    return parse_document(text, name)


def parse_document(text: str, file: str = "<spec>") -> Document:
    if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise SpecError(Problem("", f"spec is over the {MAX_SPEC_BYTES:,}-byte limit", file))
    if not text.strip():
        raise SpecError(Problem("", "spec is empty: start with 'version: 1'", file))
    try:
        # Scan events first: aliases are refused before any node is composed, so an
        # alias bomb costs one linear pass over a small file.
        documents = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1
                raise SpecError(Problem("", "YAML aliases (*name) are not allowed in a spec: "
                                        "write the value out", file, line))
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    line = event.start_mark.line + 1
                    raise SpecError(Problem("", "more than one YAML document: keep one spec per file",
                                            file, line))
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        raise SpecError(Problem("", f"malformed YAML: {what}", file, line)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem("", f"malformed YAML: {exc}", file)) from None
    if node is None:
        raise SpecError(Problem("", "spec is empty: start with 'version: 1'", file))
    lines: dict[Path_, int] = {}
    data = _to_python(node, (), lines, file)
    return Document(data, lines, file)


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


def validate_document(doc: Document) -> Spec:
    data = doc.data
    if not isinstance(data, Mapping):
        raise SpecError(doc.problem((), "a spec is a mapping that starts with 'version: 1'"))
    if "version" not in data:
        raise SpecError(doc.problem((), "missing 'version': add 'version: 1' at the top"))
    version = data["version"]
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
            what = _EXPECTED.get(kind, err["msg"])
            if kind == "list_type" and loc and (loc[-1] in _ONE_OR_MANY or loc[0] == "services"):
                what = "expected one value or a list of values"
            elif loc[:1] == ("networks",) and len(loc) == 2:
                what = "expected a list of CIDRs, or a mapping with 'include' and 'exclude'"
            got = err.get("input")
            shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            problems.append(doc.problem(loc, f"{what}, got {shown}"))
    return problems


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
NAME_RE = re.compile(r"^[a-z](?:-?[a-z0-9])*$")
