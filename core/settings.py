"""Typed provider settings: each provider declares one pydantic model, the core
validates it once and turns every error into a one-line problem at
`settings.<key>`, with a did-you-mean for misspelt keys.

Keys are written as users write them in stack files (camelCase wire names);
the model's fields are snake_case. Models are strict (no silent coercion of
`"true"` to True or `5` to `"5"`) and forbid unknown keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from cloudfence.addresses import AddressSet
from cloudfence.endpoints import Resolved
from cloudfence.errors import Problem, did_you_mean


class ProviderSettings(BaseModel):
    """Base of every provider's settings model.

    `internal_space` and `egress_ips` give `internet` its meaning on the target
    (DESIGN section 3); providers whose settings name them override these.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              strict=True, frozen=True)

    def internal_space(self) -> AddressSet | None:
        """The ranges the target's workloads hold, when known (VPC CIDRs, pod CIDRs ...)."""
        return None

    def egress_ips(self) -> AddressSet:
        """The deployment's own NAT and egress addresses: never `internet`."""
        return AddressSet()

    def platform_endpoints(self) -> Mapping[str, Resolved]:
        """What each platform endpoint the target resolves stands for with these
        settings (`cloudfence.endpoints`); one it does not resolve is absent."""
        return {}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


S = TypeVar("S", bound=ProviderSettings)


def narrow(model: type[S], settings: ProviderSettings) -> S:
    """The provider's own settings type from what the core hands over (validated by it)."""
    if not isinstance(settings, model):
        raise TypeError(f"expected {model.__name__} (validated by the core), got {type(settings).__name__}")
    return settings


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A true/false setting: `"yes"`, `1` or `"true"` are refused, never read as a bool."""


def whole(lo: int, hi: int) -> BeforeValidator:
    """A whole number from lo to hi (bools and numeric text refused): `Annotated[int, whole(1, 60)]`."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number from {lo} to {hi}, got {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}-{hi}")
        return value

    return BeforeValidator(check)


def matching(pattern: str, message: Callable[[Any], str]) -> BeforeValidator:
    """Text that fully matches `pattern`; anything else is refused with `message(value)`."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not compiled.fullmatch(value)):
            raise ValueError(message(value))
        return value

    return BeforeValidator(check)


def _normal(key: str) -> str:
    return re.sub(r"[-_\s]", "", key).lower()


def validate_settings(model: type[S], raw: Any, provider: str) -> tuple[S | None, list[Problem]]:
    """The validated settings, or None and the problems (never an exception)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return None, [Problem("settings", f"expected a mapping of {provider} settings, got {raw!r}")]
    fields = {f.alias or name: name for name, f in model.model_fields.items()}
    problems: list[Problem] = []
    for key in raw:
        if not isinstance(key, str):
            problems.append(Problem("settings", f"setting names are text, got {key!r}"))
        elif key not in fields:
            by_name = {name: k for k, name in fields.items()}
            by_normal = {_normal(k): k for k in fields}
            if key in by_name or _normal(key) in by_normal:
                right = by_name.get(key) or by_normal[_normal(key)]
                hint = f" (did you mean '{right}'?)"
            else:
                hint = did_you_mean(key, fields)
            known = ", ".join(sorted(fields)) or "none"
            problems.append(Problem(f"settings.{key}", f"unknown {provider} setting{hint} (known: {known})"))
    if problems:
        return None, problems
    try:
        return model.model_validate(dict(raw)), []
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":  # say what the key is for, not the mapping it is missing from
                described = model.model_fields[fields[loc]].description if loc in fields else None
                message = f"required ({described})" if described else "required"
            elif err["type"] not in ("value_error", "assertion_error") and "input" in err:
                message = f"{message}, got {err['input']!r}"
            problems.append(Problem(f"settings.{loc}" if loc else "settings", message))
        return None, problems


def describe(model: type[ProviderSettings]) -> list[dict[str, Any]]:
    """The model as `cloudfence providers` lists it: key, type, default, description."""
    out = []
    for name, f in model.model_fields.items():
        annotation = getattr(f.annotation, "__name__", None) or str(f.annotation)
        annotation = re.sub(r"\b(typing|ipaddress|pathlib)\.", "", annotation)
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        if default is not None and not isinstance(default, (bool, int, float, str, list, dict)):
            default = str(default)
        out.append({"key": f.alias or name, "type": annotation, "required": f.is_required(),
                    "default": default, "description": f.description or ""})
    return out
