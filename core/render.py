"""Plain-text rendering for the CLI: aligned tables and one-line resource summaries.

Kept apart from the commands so the table layout can be tested on its own and
so that providers may offer a `summarize(resource)` of their own while every
other provider still gets a readable line from its wire-name inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cloudfence.plan import REF

SUMMARY_WIDTH = 110
_SKIP = {"tags", "apiVersion", "kind", "labels", "annotations"}


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str] | None = None, indent: str = "") -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    lines = [list(map(_cell, r)) for r in rows]
    if headers:
        lines.insert(0, list(headers))
    if not lines:
        return ""
    width = max(len(r) for r in lines)
    sizes = [max((len(r[i]) for r in lines if i < len(r)), default=0) for i in range(width)]
    out = []
    for r in lines:
        cells = [c.ljust(sizes[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def short_type(type_token: str) -> str:
    """`aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule` -> `SecurityGroupIngressRule`."""
    return type_token.rsplit(":", 1)[-1] or type_token


def summarize(inputs: Mapping[str, Any], name: str | None = None, width: int = SUMMARY_WIDTH) -> str:
    """A one-line reading of a record's inputs: scalars as key=value, references as
    key->name, wrapper mappings (metadata, spec) opened one level, lists by length,
    the description last."""
    parts: list[str] = []
    description = ""
    inputs = _join_port_range(inputs)
    for key, value in inputs.items():
        if key in _SKIP:
            continue
        if key == "description" and isinstance(value, str):
            description = f'"{_clip(value, 48)}"'
        elif isinstance(value, Mapping) and value and not _is_flat(value):
            parts += [p for k, v in value.items()
                      if k not in _SKIP and not (k == "name" and v == name) and (p := _brief(k, v))]
        elif p := _brief(key, value):
            parts.append(p)
    if description:
        parts.append(description)
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def _join_port_range(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """protocol + fromPort + toPort (the common cloud rule shape) read as one `tcp/443`."""
    proto_key = next((k for k in ("ipProtocol", "protocol") if isinstance(inputs.get(k), str)), None)
    lo, hi = inputs.get("fromPort"), inputs.get("toPort")
    if proto_key is None or not isinstance(lo, int) or not isinstance(hi, int):
        return inputs
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if key == proto_key:
            out["ports"] = f"{value}/{lo}" if lo == hi else f"{value}/{lo}-{hi}"
        elif key not in ("fromPort", "toPort"):
            out[key] = value
    return out


def _is_flat(value: Mapping[str, Any]) -> bool:
    return all(isinstance(v, (str, int, float, bool)) for v in value.values())


def value_text(value: Any) -> str:
    """Compact text for a value: mappings as k=v pairs, lists comma-joined."""
    if isinstance(value, Mapping):
        if len(value) == 1 and isinstance(next(iter(value.values())), Mapping):
            return value_text(next(iter(value.values())))  # {"matchLabels": {...}} reads as its labels
        return ",".join(_pair(k, v) for k, v in value.items()) or "{}"
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pair(key: str, value: Any) -> str:
    m = REF.match(value) if isinstance(value, str) else None
    return f"{key}->{m.group('name')}" if m else f"{key}={value_text(value)}"


def _brief(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        m = REF.match(value)
        return f"{key}->{m.group('name')}" if m else f"{key}={_clip(value, 32)}"
    if isinstance(value, Mapping):
        text = value_text(value)
        if len(value) == 1 and _is_flat(value):
            return f"{key}: {_clip(text, 40)}"
        return f"{key}={_clip(text, 40)}" if len(value) <= 3 else f"{key}{{{len(value)}}}"
    if isinstance(value, (list, tuple)):
        if len(value) <= 4 and all(isinstance(v, (str, int, float)) for v in value):
            return f"{key}={','.join(str(v) for v in value)}"
        if len(value) == 1 and isinstance(value[0], Mapping) and _is_flat(value[0]):
            return f"{key}=[{_clip(value_text(value[0]), 40)}]"
        return f"{key}[{len(value)}]"
    return f"{key}={value_text(value)}"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
