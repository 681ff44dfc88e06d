"""Stack config and provider settings: the `cloudfence:*` keys of a Pulumi stack
(DESIGN section 4), `--settings FILE` (a plain mapping) and `--set KEY=VALUE`.

One reader serves the `Segmentation` component and the CLI's `--stack`, so both
act on the same targets with the same settings. Every `cloudfence:*` key is read
strictly: an unknown key stops with a did-you-mean, and the first contract's keys
are refused with the exact rewrite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloudfence.errors import CloudfenceError, Problem, did_you_mean

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
        problems = [Problem(self.sources[p], f"settings for unknown provider '{p}'"
                            f"{provider_hint(p, installed)}")
                    for p in self.scoped if p not in installed]
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
                                      "or --set PROVIDER.KEY=VALUE"))
    if raw.strip() == "":
        return key, ""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or "not a YAML value"
        raise CloudfenceError(Problem(f"--set {item}", f"cannot read the value: {what}; quote text "
                                      "that YAML would misread, e.g. --set 'key=\"a: b\"'")) from None
    return key, value


NAMESPACE = "cloudfence"
KEYS = {"spec": "the spec file, relative to the stack's folder",
        "providers": "the targets this stack deploys: provider name -> its settings"}
# The first contract's keys; `kubernetes` and `kubernetesSettings` named that provider.
LEGACY = ("provider", "settings", "kubernetes", "kubernetesSettings")
LEGACY_EXTRA = "kubernetes"


def provider_hint(name: str, installed: Sequence[str]) -> str:
    """A did-you-mean that ignores case (`-p NAME` for `name`), else the installed names."""
    folded = {p.lower(): p for p in installed}
    if name.lower() in folded:
        return f" (did you mean '{folded[name.lower()]}'?)"
    return did_you_mean(name, installed) or f" (installed providers: {', '.join(installed) or 'none'})"


@dataclass(frozen=True)
class StackConfig:
    """The `cloudfence:*` keys of one stack, read strictly."""

    where: str  # the stack file, or "stack config"
    spec: str | None
    providers: dict[str, dict[str, Any]]  # in the order written


def read_config(config: Mapping[str, Any], where: str = "stack config") -> StackConfig:
    """Read the `cloudfence:*` keys of a stack's config (full keys, values as plain data)."""
    problems: list[Problem] = []
    ours = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{NAMESPACE}:")}
    for key in config:
        space = key.split(":", 1)[0] if ":" in key else ""
        if space and space != NAMESPACE and did_you_mean(space, [NAMESPACE]):
            problems.append(Problem(f"config.{key}", f"unknown namespace '{space}' (did you mean "
                                    f"'{NAMESPACE}:{key.split(':', 1)[1]}'?)", where))
    # `cloudfence:provider` holding a mapping is a misspelt `providers`, not the old key.
    legacy = [k for k in LEGACY if k in ours and not (k == "provider" and isinstance(ours[k], Mapping))]
    if legacy:
        problems.append(_legacy_problem(ours, legacy, where))
    for key in ours:
        if key not in KEYS and key not in legacy:
            problems.append(Problem(f"config.{NAMESPACE}:{key}", f"unknown cloudfence key{_key_hint(key)} "
                                    f"(known: {', '.join(f'{NAMESPACE}:{k}' for k in KEYS)})", where))
    spec = ours.get("spec")
    if spec is not None and (not isinstance(spec, str) or not spec.strip()):
        problems.append(Problem(f"config.{NAMESPACE}:spec", f"expected the spec file's path, got {spec!r}",
                                where))
        spec = None
    providers = _providers(ours.get("providers"), where, problems)
    if problems:
        raise CloudfenceError(problems)
    return StackConfig(where, spec, providers)


def _key_hint(key: str) -> str:
    hint = did_you_mean(key, KEYS)
    if hint:
        return hint.replace("'", f"'{NAMESPACE}:", 1)
    if did_you_mean(key, LEGACY):
        return (f" (settings now go under {NAMESPACE}:providers, per provider: "
                "{<provider>: {<setting>: <value>}})")
    return ""


def _providers(raw: Any, where: str, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    place = f"config.{NAMESPACE}:providers"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(place, "expected a mapping of provider name to its settings, e.g. "
                                "{<provider>: {<setting>: <value>}}", where))
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, settings in raw.items():
        if not isinstance(name, str):
            problems.append(Problem(place, f"provider names are text, got {name!r}", where))
        elif settings is None:
            out[name] = {}
        elif not isinstance(settings, Mapping):
            problems.append(Problem(f"{place}.{name}", "expected a mapping of setting names to values "
                                    "({} for none)", where))
        else:
            out[name] = dict(settings)
    return out


def _legacy_problem(ours: Mapping[str, Any], legacy: Sequence[str], where: str) -> Problem:
    """The first contract's keys, with the `cloudfence:providers` that says the same."""
    providers: dict[str, Any] = {}
    provider = ours.get("provider")
    if isinstance(provider, str):
        providers[provider] = dict(ours.get("settings") or {}) if isinstance(
            ours.get("settings") or {}, Mapping) else ours.get("settings")
    if ours.get("kubernetes") in (True, "true") or "kubernetesSettings" in ours:
        providers.setdefault(LEGACY_EXTRA, dict(ours.get("kubernetesSettings") or {}))
    rewrite = yaml.safe_dump(providers, default_flow_style=True, sort_keys=False, width=10_000).strip()
    keys = ", ".join(f"{NAMESPACE}:{k}" for k in legacy)
    return Problem(f"config.{NAMESPACE}:{legacy[0]}", f"{keys}: no longer read; write "
                   f"`{NAMESPACE}:providers: {rewrite}` instead", where)


def _read_yaml_mapping(path: str, what: str, shape: str) -> Mapping[str, Any]:
    # The same safe reading as specs: no aliases, no duplicates, no foreign tags, and a
    # one-line error for a path that is missing, a folder, unreadable or binary.
    from cloudfence.spec import parse_document, read_text_file

    text = read_text_file(path, what, MAX_SETTINGS_BYTES)
    if not text.strip():
        return {}
    data = parse_document(text, path).data
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise CloudfenceError(Problem("", f"{what} file must be a mapping of {shape}", path))
    return data


def read_stack_file(path: str) -> StackConfig:
    """A Pulumi stack file (`Pulumi.<stack>.yaml`): its `config:` read as the component reads it."""
    data = _read_yaml_mapping(path, "stack", "config keys under `config:`")
    config = data.get("config")
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise CloudfenceError(Problem("config", "expected a mapping of config keys", path))
    stack = read_config(config, path)
    if not stack.providers:
        raise CloudfenceError(Problem(f"config.{NAMESPACE}:providers", "missing: name the targets this "
                                      "stack deploys, e.g. cloudfence:providers: {<provider>: {}}", path))
    return stack


def stack_spec(stack: StackConfig) -> Path | None:
    """The spec a stack file names, as a path from here (Pulumi runs in the stack's folder)."""
    if stack.spec is None:
        return None
    spec = Path(stack.spec)
    return spec if spec.is_absolute() else Path(stack.where).parent / spec


def read_settings_file(path: str) -> dict[str, Any]:
    """A YAML/JSON mapping of settings (`key` for every target, `provider.key` for one).
    A Pulumi stack file is refused: it names its targets, which `--stack` reads."""
    data = _read_yaml_mapping(path, "settings", "setting names to values")
    if "config" in data or any(isinstance(k, str) and k.startswith(f"{NAMESPACE}:") for k in data):
        raise CloudfenceError(Problem("", f"this is a Pulumi stack file, not a settings mapping: use "
                                      f"--stack {path} (it acts on every provider the stack names)", path))
    return dict(data)


def load_settings(settings_file: str | None, assignments: Sequence[str]) -> Settings:
    """Settings from the file, then --set: the last wins."""
    settings = Settings()
    if settings_file:
        for key, value in read_settings_file(settings_file).items():
            settings.put(str(key), value, f"{settings_file}: {key}")
    for item in assignments:
        key, value = parse_assignment(item)
        settings.put(key, value, f"--set {item}")
    return settings


@dataclass(frozen=True)
class Target:
    """One provider to act on, with its raw settings (validated by the core)."""

    provider: str
    settings: dict[str, Any]
    label: str  # how output names it: the provider, and the stack when several are given
    stack: str | None = None  # the stack file its settings come from, if any


def resolve_spec(spec: str | None, stacks: Sequence[StackConfig]) -> str:
    """SPEC, or the spec the stack files name; SPEC given and different is an error."""
    named = [(s, stack_spec(s)) for s in stacks]
    if spec is not None:
        for stack, path in named:
            if path is not None and Path(spec).resolve() != path.resolve():
                raise CloudfenceError(Problem(f"config.{NAMESPACE}:spec", f"names {stack.spec} ({path}), "
                                              f"not {spec}: drop SPEC to use the stack's spec, or "
                                              "give the stack's spec", stack.where))
        return spec
    if not stacks:
        raise CloudfenceError("give a SPEC file, or --stack Pulumi.<stack>.yaml that names one")
    missing = [s for s, path in named if path is None]
    if missing:
        raise CloudfenceError(Problem(f"config.{NAMESPACE}:spec", "missing: name the spec file "
                                      "(cloudfence:spec: segments.yaml) or give SPEC", missing[0].where))
    paths = {path.resolve() for _, path in named if path is not None}
    if len(paths) > 1:
        listed = ", ".join(f"{s.where} names {path}" for s, path in named)
        raise CloudfenceError(f"the stack files name different specs ({listed}): give them one at a time")
    path = named[0][1]
    assert path is not None
    return str(path)


def targets(provider: str | None, stacks: Sequence[StackConfig], settings_file: str | None,
            assignments: Sequence[str], installed: Sequence[str]) -> list[Target]:
    """What a command acts on: `-p P`, `-p all` (every installed provider), or every
    provider the stack files name with their settings; --settings and --set on top.

    With `-p all` and stack files, each installed provider is judged once per stack
    file that names it (with that stack's settings), grouped by provider; a provider
    no stack names is judged once with --settings and --set alone. Handing a stack's
    settings to a provider the stack does not deploy would judge a target nobody runs.
    """
    extra = load_settings(settings_file, assignments)
    extra.check_providers(installed)
    if provider is not None and provider != "all" and provider not in installed:
        raise CloudfenceError(f"unknown provider '{provider}'{provider_hint(provider, installed)}")
    if not stacks:
        if provider is None:
            raise CloudfenceError("give --provider P (or 'all'), or --stack Pulumi.<stack>.yaml")
        names = list(installed) if provider == "all" else [provider]
        return [Target(n, extra.for_provider(n), n) for n in names]
    for stack in stacks:
        unknown = [Problem(f"config.{NAMESPACE}:providers.{n}", f"unknown provider '{n}'"
                           f"{provider_hint(n, installed)}", stack.where)
                   for n in stack.providers if n not in installed]
        if unknown:
            raise CloudfenceError(unknown)
    if provider == "all":
        return [t for n in installed
                for t in (_stack_targets(n, stacks, extra) or [Target(n, extra.for_provider(n), n)])]
    out = []
    for stack in stacks:
        if provider is None:
            names = list(stack.providers)
        elif provider in stack.providers:
            names = [provider]
        else:
            raise CloudfenceError(Problem(f"config.{NAMESPACE}:providers", f"does not name provider "
                                          f"'{provider}' (it names {', '.join(stack.providers)}): drop "
                                          "--provider to act on every one", stack.where))
        out += [_stack_target(n, stack, extra, len(stacks) > 1) for n in names]
    return out


def _stack_targets(name: str, stacks: Sequence[StackConfig], extra: Settings) -> list[Target]:
    """One target per stack file that names the provider, in the order the files were given."""
    return [_stack_target(name, s, extra, len(stacks) > 1) for s in stacks if name in s.providers]


def _stack_target(name: str, stack: StackConfig, extra: Settings, several: bool) -> Target:
    """The provider with the stack's settings, --settings and --set on top; labelled with
    the stack file when several are given, so each row says where its settings come from."""
    settings = {**stack.providers[name], **extra.common, **extra.scoped.get(name, {})}
    label = f"{name} ({Path(stack.where).name})" if several else name
    return Target(name, settings, label, stack.where)
