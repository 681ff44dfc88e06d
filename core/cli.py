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
from pathlib import Path
from typing import Any

import click

from cloudfence import plugins
from cloudfence import verify as verification
from cloudfence.errors import CheckError, CloudfenceError, Problem
from cloudfence.intent import load_intent
from cloudfence.provider import Provider, checked_plan
from cloudfence.render import Result, intent_json, intent_text, plan_text, settings_text, table, verdicts_text
from cloudfence.settings import describe
from cloudfence.stackconfig import load_settings

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
        _print_json(intent_json(intent))
        return
    click.echo(intent_text(intent, spec))


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
    click.echo(plan_text(compiled, document, via_pulumi, provider.summarize))


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
        click.echo(verdicts_text(results))
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
                                    "capabilities": p.capabilities.to_json(),
                                    "settings": describe(p.settings_model)} for p in found.values()],
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
            ("manifests", "yes (cloudfence export)" if caps["manifests"] else "no"),
        ]
        rows += [("quota " + k, v) for k, v in caps["quotas"].items()]
        click.echo(table(rows, indent="  "))
        click.echo(settings_text(p.settings_model))


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
    if not provider.capabilities.manifests:
        able = [n for n, p in installed().items() if p.capabilities.manifests]
        raise CloudfenceError(f"provider {provider.name} cannot export manifests (providers that can: "
                              f"{', '.join(able) or 'none installed'})")
    settings = _settings_for(settings_file, assignments, [provider])[provider.name]
    files: Mapping[str, str] = provider.manifests(checked_plan(provider, intent, settings))
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


def _settings_for(settings_file: str | None, assignments: Sequence[str],
                  targets: Sequence[Provider]) -> dict[str, dict[str, Any]]:
    settings = load_settings(settings_file, assignments)
    settings.check_providers(list(installed()))
    return {p.name: settings.for_provider(p.name) for p in targets}


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


if __name__ == "__main__":
    main(prog_name="cloudfence")
