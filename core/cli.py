"""The `cloudfence` command line: validate a spec, plan it for a target, prove
the plan equivalent to the spec, list providers, export manifests.

Nothing here imports Pulumi: every command except `plan --via-pulumi` works
from the pure compile and evaluate layers, so a CI gate costs a fraction of a
second per target. Bad input of any kind (spec, settings, provider name)
prints `error: <place>: <problem and fix>` lines on stderr and exits 2;
`verify` exits 1 when a target is not equivalent to the spec.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from cloudfence import plugins
from cloudfence import verify as verification
from cloudfence.errors import CheckError, CloudfenceError, Problem
from cloudfence.intent import INTERNET, Intent, load_intent
from cloudfence.plan import Plan
from cloudfence.ports import format_ports
from cloudfence.provider import Provider, checked_plan
from cloudfence.reach import Verdict
from cloudfence.render import short_type, summarize, table, value_text

MAX_SETTINGS_BYTES = 1_000_000
FORMATS = click.Choice(["table", "json"])

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2


# ------------------------------------------------------------------ errors


def _handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every CloudfenceError into `error:` lines on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CloudfenceError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None

    return wrapper


def installed() -> dict[str, Provider]:
    """Every installed provider. Plugins that fail to import are set aside by
    cloudfence.plugins; one whose hook fails or registers something that is not a
    provider is reported here, not as a traceback."""
    try:
        return plugins.providers()
    except (ImportError, TypeError, ValueError) as exc:
        raise CloudfenceError(f"cannot load the installed provider plugins: {type(exc).__name__}: {exc} "
                              "(reinstall or uninstall the package that declares it in the "
                              "'cloudfence.providers' entry points)") from None


def get_provider(name: str) -> Provider:
    installed()
    return plugins.get_provider(name)


# ---------------------------------------------------------------- settings


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


def settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--settings", "settings_file", metavar="FILE",
                           help="YAML/JSON mapping of provider settings, or a Pulumi.<stack>.yaml "
                                "(its config 'cloudfence:settings').")(command)
    return click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                        help="Provider setting (repeatable); VALUE is read as YAML. PROVIDER.KEY=VALUE "
                             "applies to that provider only.")(command)


# ---------------------------------------------------------------- commands


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cloudfence")
    except PackageNotFoundError:
        return "0.1.0 (source tree)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="cloudfence")
def main() -> None:
    """One network segmentation spec, deployed on every target and proven equivalent."""


@main.command(short_help="Check a spec and print what it says.")
@click.argument("spec")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@_handles_errors
def validate(spec: str, fmt: str) -> None:
    """Load SPEC and print what it says, with flows merged per (source, destination)."""
    intent = load_intent(spec)
    if fmt == "json":
        _print_json(_intent_json(intent))
        return
    networks = [n for n in intent.networks if n != INTERNET]
    spec_flows = len({i for f in intent.flows for i in f.origins})
    head = f"{intent.name}: {intent.description}" if intent.description else intent.name
    click.echo(f"{head}\n{spec} is valid: {_count(len(intent.segments), 'segment')}, "
               f"{_count(len(networks), 'network')} (+ internet), {_count(len(intent.flows), 'flow')} "
               f"(from {_count(spec_flows, 'spec entry', 'spec entries')})")
    click.echo("\nsegments:")
    rows = []
    for seg in intent.segments.values():
        k8s = "-"
        if seg.kubernetes:
            labels = ",".join(f"{k}={v}" for k, v in seg.kubernetes.labels)
            k8s = f"{seg.kubernetes.namespace}{{{labels}}}"
        rows.append((seg.name, " ".join(map(str, seg.cidrs)) or "-", k8s))
    click.echo(table(rows, ("NAME", "ADDRESSES", "KUBERNETES"), indent="  "))
    if networks:
        click.echo("\nnetworks:")
        click.echo(table(((n, " ".join(map(str, intent.networks[n].cidrs()))) for n in networks),
                         ("NAME", "ADDRESSES"), indent="  "))
    click.echo("\nflows:")
    click.echo(table(((f.src, f.dst, format_ports(f.ports), ", ".join(f"flows[{i}]" for i in f.origins))
                      for f in intent.flows), ("FROM", "TO", "PORTS", "SPEC"), indent="  "))


@main.command(short_help="Print the resource records a provider would create.")
@click.argument("spec")
@click.option("--provider", "-p", "provider_name", required=True, help="An installed provider.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--via-pulumi", is_flag=True,
              help="Register the plan through the provider's Pulumi SDK under the mock runtime "
                   "and print what was registered.")
@settings_options
@_handles_errors
def plan(spec: str, provider_name: str, fmt: str, via_pulumi: bool, settings_file: str | None,
         assignments: tuple[str, ...]) -> None:
    """Compile SPEC for one provider and print the resource records."""
    intent = load_intent(spec)
    provider = get_provider(provider_name)
    settings = _settings_for(settings_file, assignments, [provider])[provider.name]
    compiled = checked_plan(provider, intent, settings)
    document = compiled.to_json()
    if via_pulumi:
        from cloudfence.deploy.emitter import registered_plan  # the only command that loads Pulumi

        document = registered_plan(intent, provider, settings)
    if fmt == "json":
        _print_json(document)
        return
    _print_plan_table(provider, compiled, document, via_pulumi)


@main.command(short_help="Prove each target allows exactly what the spec says.")
@click.argument("spec")
@click.option("--provider", "-p", "provider_name", required=True,
              help="An installed provider, or 'all' for every installed one.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@settings_options
@_handles_errors
def verify(spec: str, provider_name: str, fmt: str, settings_file: str | None,
           assignments: tuple[str, ...]) -> None:
    """Prove, per target, that the compiled plan allows exactly what SPEC says.

    Exit status: 0 when every target is equivalent; 1 when any target is not
    (counterexamples are printed); 2 for bad input, or when a target cannot
    express the spec and no target was found different.
    """
    intent = load_intent(spec)
    if provider_name == "all":
        targets = list(installed().values())
        if not targets:
            raise CloudfenceError("no providers installed: install a provider plugin "
                                  "(pip install -e . installs the built-in ones)")
    else:
        targets = [get_provider(provider_name)]
    per_target = _settings_for(settings_file, assignments, targets)
    show_progress = len(targets) > 1 and sys.stderr.isatty()
    results: list[Result] = []
    for provider in targets:
        if show_progress:
            click.echo(f"verifying {provider.name} ...", err=True)
        settings = per_target[provider.name]
        try:
            verdict = verification.verify(intent, provider, settings)
        except CheckError as exc:
            if len(targets) == 1:
                raise
            results.append(Result(provider.name, None, exc.problems, len(intent.flows)))
            continue
        results.append(Result(provider.name, verdict, [], len(intent.flows)))
    if fmt == "json":
        _print_json({"spec": intent.name, "targets": [r.to_json() for r in results]})
    else:
        _print_verdicts(results)
    if any(r.verdict is not None and not r.verdict.equivalent for r in results):
        raise click.exceptions.Exit(EXIT_DIFFERENT)
    if any(r.verdict is None for r in results):
        raise click.exceptions.Exit(EXIT_BAD_INPUT)


@main.command("providers", short_help="List installed providers and their capabilities.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@_handles_errors
def list_providers(fmt: str) -> None:
    """List installed provider plugins and what each can express."""
    found = installed()
    if fmt == "json":
        _print_json({"providers": [{"name": p.name, "description": p.description,
                                    "capabilities": p.capabilities.to_json()} for p in found.values()],
                     "failed": plugins.broken()})
        return
    failed = plugins.broken()
    for name, why in failed.items():
        click.echo(f"warning: provider plugin '{name}' failed to load: {why}", err=True)
    if not found:
        click.echo("no providers installed")
        return
    for i, p in enumerate(found.values()):
        caps = p.capabilities.to_json()
        if i:
            click.echo()
        click.echo(f"{p.name}: {p.description}")
        rows = [
            ("protocols", ", ".join(caps["protocols"])),
            ("icmp types", "yes" if caps["icmpTypes"] else "no"),
            ("ipv6", "yes" if caps["ipv6"] else "no"),
            ("segments need addresses", "yes" if caps["segmentsNeedAddresses"] else "no"),
            ("governs", caps["governs"]),
            ("platform endpoints", ", ".join(caps["platformEndpoints"]) or "none"),
        ]
        rows += [("quota " + k, v) for k, v in caps["quotas"].items()]
        rows += [("setting " + k, v) for k, v in caps["settings"].items()]
        click.echo(table(rows, indent="  "))


@main.command(short_help="Write native manifests (Kubernetes NetworkPolicy YAML).")
@click.argument("spec")
@click.option("--provider", "-p", "provider_name", required=True)
@click.option("--output", "-o", "out_dir", required=True, metavar="DIR",
              help="Directory for the manifests (created if missing).")
@settings_options
@_handles_errors
def export(spec: str, provider_name: str, out_dir: str, settings_file: str | None,
           assignments: tuple[str, ...]) -> None:
    """Write the provider's native manifests (e.g. Kubernetes NetworkPolicy YAML) to DIR."""
    intent = load_intent(spec)
    provider = get_provider(provider_name)
    manifests = getattr(provider, "manifests", None)
    if not callable(manifests):
        able = [n for n, p in installed().items() if callable(getattr(p, "manifests", None))]
        raise CloudfenceError(f"provider {provider.name} cannot export manifests (providers that can: "
                              f"{', '.join(able) or 'none installed'})")
    settings = _settings_for(settings_file, assignments, [provider])[provider.name]
    files: Mapping[str, str] = manifests(checked_plan(provider, intent, settings))
    out = Path(out_dir)
    for name in files:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise CloudfenceError(f"provider {provider.name} produced an unsafe file name {name!r}")
    if out.exists() and not out.is_dir():
        raise CloudfenceError(Problem("", "output exists and is not a directory", out_dir))
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(files.items()):
        (out / name).write_text(text, encoding="utf-8")
        click.echo(str(out / name))
    click.echo(f"{len(files)} manifests written to {out}", err=True)


# ---------------------------------------------------------------- helpers


@dataclass
class Result:
    provider: str
    verdict: Verdict | None  # None: the provider's check rejected the spec
    problems: list[Problem]
    flows: int

    @property
    def judged(self) -> int:
        return self.flows - len(self.verdict.not_governed) if self.verdict else 0

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "provider": self.provider,
            "equivalent": v.equivalent if v else None,
            "problems": [str(p) for p in self.problems],
            "counterexamples": [c.to_json() for c in v.counterexamples] if v else [],
            "totalDifferences": v.total_differences if v else 0,
            "connections": v.connections if v else 0,
            "flowsJudged": self.judged,
            "implied": list(v.implied) if v else [],
            "notGoverned": list(v.not_governed) if v else [],
        }


def _settings_for(settings_file: str | None, assignments: Sequence[str],
                  targets: Sequence[Provider]) -> dict[str, dict[str, Any]]:
    settings = load_settings(settings_file, assignments)
    settings.check_providers(list(installed()))
    return {p.name: settings.for_provider(p.name) for p in targets}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


def _intent_json(intent: Intent) -> dict[str, Any]:
    return {
        "spec": intent.name,
        "description": intent.description,
        "segments": [{"name": s.name, "description": s.description,
                      "cidrs": [str(c) for c in s.cidrs],
                      "kubernetes": {"namespace": s.kubernetes.namespace,
                                     "labels": s.kubernetes.match_labels} if s.kubernetes else None}
                     for s in intent.segments.values()],
        "networks": [{"name": n.name, "cidrs": [str(c) for c in n.cidrs()]}
                     for n in intent.networks.values()],
        "flows": [{"from": f.src.name, "to": f.dst.name, "ports": format_ports(f.ports),
                   "specFlows": list(f.origins)} for f in intent.flows],
    }


def _print_plan_table(provider: Provider, compiled: Plan, document: Mapping[str, Any],
                      via_pulumi: bool) -> None:
    custom = getattr(provider, "summarize", None)
    resources = document["resources"]
    by_name = {r.name: r for r in compiled.resources}
    rows = []
    for r in resources:
        text = None
        if callable(custom) and r["name"] in by_name:
            text = custom(by_name[r["name"]])
        if text is None:
            text = summarize(r["inputs"], r["name"])
        rows.append((short_type(r["type"]), r["name"], text))
    how = "registered under the Pulumi mock runtime" if via_pulumi else "planned"
    click.echo(f"{compiled.spec} on {compiled.provider}: {len(resources)} resources {how}")
    if rows:
        click.echo(table(rows, ("TYPE", "NAME", "SUMMARY"), indent="  "))
    if via_pulumi:
        same = [json.dumps(r, sort_keys=True) for r in resources] == [
            json.dumps(r.to_json(), sort_keys=True) for r in compiled.resources]
        click.echo("\nregistered resources equal the offline plan" if same else
                   "\nnote: registered resources differ from the offline plan "
                   "(compare the --format json outputs with and without --via-pulumi)")
    if compiled.implied:
        click.echo(f"\nimplied flows (added by {compiled.provider} on purpose):")
        for f in compiled.implied:
            click.echo(f"  {f}")
    if compiled.exports:
        click.echo("\nexports (what a workload attaches to join a segment):")
        click.echo(table(((seg, ", ".join(f"{k}={value_text(v)}" for k, v in values.items()))
                          for seg, values in compiled.exports.items()), indent="  "))


def _print_verdicts(results: Sequence[Result]) -> None:
    for i, r in enumerate(results):
        if i:
            click.echo()
        v = r.verdict
        if v is None:
            click.echo(f"{r.provider}: cannot express: {r.problems[0] if r.problems else 'check failed'}")
            for p in r.problems[1:]:
                click.echo(f"  {p}")
            continue
        counts = f"{v.connections} connection classes, {r.judged} flows judged"
        if v.equivalent:
            click.echo(f"{r.provider}: equivalent ({counts})")
        else:
            click.echo(f"{r.provider}: NOT equivalent ({v.total_differences} differences; {counts})")
            rows = [(c.kind, c.explanation, c.source, c.destination, c.protocol,
                     "-" if c.port is None else c.port, c.ports or "-") for c in v.counterexamples]
            click.echo(table(rows, ("KIND", "EXPLANATION", "SOURCE", "DESTINATION", "PROTOCOL", "PORT",
                                    "PORTS"), indent="  "))
            if v.total_differences > len(v.counterexamples):
                click.echo(f"  ... {v.total_differences - len(v.counterexamples)} more "
                           "(--format json lists the same first ones)")
        for flow in v.implied:
            click.echo(f"  implied by {r.provider}: {flow}")
        for flow in v.not_governed:
            click.echo(f"  not governed by {r.provider}: {flow}")


if __name__ == "__main__":
    main(prog_name="cloudfence")
