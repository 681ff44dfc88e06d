"""Provider settings as the CLI reads them: `--settings FILE` (a plain mapping, or a
Pulumi stack file read the way the stack program reads it) and `--set KEY=VALUE`.

Kept apart from the commands so that the stack program and the CLI read one
stack file the same way, and so the reading can be tested without click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloudfence.errors import CloudfenceError, Problem

MAX_SETTINGS_BYTES = 1_000_000


@dataclass
class Settings:
    """Provider settings from --settings and --set: common ones apply to every
    target, `provider.key` ones only to that provider; --set wins over the file."""

    common: dict[str, Any] = field(default_factory=dict)
    scoped: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # provider -> where it was named

    def put(self, key: str, value: Any, where: str) -> None:
        provider, _, name = key.rpartition(".")
        if not name or (provider == "" and key.startswith(".")):
            raise CloudfenceError(Problem(where, f"empty setting name in '{key}': write KEY=VALUE "
                                          "or PROVIDER.KEY=VALUE, e.g. vpcId=vpc-0abc"))
        if provider:
            if "." in provider:
                raise CloudfenceError(Problem(where, f"'{key}': write KEY or PROVIDER.KEY "
                                              "(one dot at most)"))
            self.scoped.setdefault(provider, {})[name] = value
            self.sources.setdefault(provider, where)
        else:
            self.common[name] = value

    def check_providers(self, installed: Sequence[str]) -> None:
        unknown = [p for p in self.scoped if p not in installed]
        problems = []
        for p in unknown:
            hint = f" (installed providers: {', '.join(installed) or 'none'})"
            problems.append(Problem(self.sources[p], f"settings for unknown provider '{p}'{hint}"))
        if problems:
            raise CloudfenceError(problems)

    def for_provider(self, name: str) -> dict[str, Any]:
        return {**self.common, **self.scoped.get(name, {})}


def parse_assignment(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` with VALUE read as YAML: nacls=true is a bool, vpcId=vpc-0abc text."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CloudfenceError(Problem(f"--set {item}", "write KEY=VALUE, e.g. --set vpcId=vpc-0abc "
                                      "or --set aws.nacls=true"))
    if raw.strip() == "":
        return key, ""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or "not a YAML value"
        raise CloudfenceError(Problem(f"--set {item}", f"cannot read the value: {what}; quote text "
                                      "that YAML would misread, e.g. --set 'key=\"a: b\"'")) from None
    return key, value


def read_settings_file(path: str) -> tuple[dict[str, Any], str | None]:
    """A YAML/JSON mapping of settings, or a Pulumi stack file whose
    `config: cloudfence:settings` is used (scoped to its `cloudfence:provider`;
    `cloudfence:kubernetesSettings` scoped to kubernetes), as the stack program reads them."""
    from cloudfence.spec import parse_document  # same safe YAML reading as specs: no aliases, no duplicates

    p = Path(path)
    if not p.is_file():
        raise CloudfenceError(Problem("", "settings file not found: check the path", path))
    if p.stat().st_size > MAX_SETTINGS_BYTES:
        raise CloudfenceError(Problem("", f"settings file is over {MAX_SETTINGS_BYTES:,} bytes", path))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CloudfenceError(Problem("", f"cannot read settings file: {exc}", path)) from None
    if not text.strip():
        return {}, None
    data = parse_document(text, path).data
    if data is None:
        return {}, None
    if not isinstance(data, Mapping):
        raise CloudfenceError(Problem("", "settings file must be a mapping of setting names to values",
                                      path))
    provider = None
    if "config" in data and isinstance(data["config"], Mapping):
        config = data["config"]
        provider = config.get("cloudfence:provider")
        data = config.get("cloudfence:settings", {})
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise CloudfenceError(Problem("config.cloudfence:settings", "expected a mapping of setting "
                                          "names to values", path))
        if provider is not None and not isinstance(provider, str):
            raise CloudfenceError(Problem("config.cloudfence:provider", "expected a provider name", path))
        k8s = config.get("cloudfence:kubernetesSettings") or {}
        if not isinstance(k8s, Mapping):
            raise CloudfenceError(Problem("config.cloudfence:kubernetesSettings", "expected a mapping of "
                                          "setting names to values", path))
        data = dict(data)
        if provider and provider != "kubernetes":
            data.update({f"kubernetes.{k}": v for k, v in k8s.items()})
    return dict(data), provider


def load_settings(settings_file: str | None, assignments: Sequence[str]) -> Settings:
    settings = Settings()
    if settings_file:
        data, provider = read_settings_file(settings_file)
        for key, value in data.items():
            scoped = f"{provider}.{key}" if provider and "." not in key else str(key)
            settings.put(scoped, value, f"{settings_file}: {key}")
    for item in assignments:
        key, value = parse_assignment(item)
        settings.put(key, value, f"--set {item}")
    return settings
