"""The `cloudfence` command line: validate a spec, plan it for a target, prove
the plan equivalent to the spec, list providers, export manifests.

Nothing here imports Pulumi: every command except `plan --via-pulumi` works
from the pure compile and evaluate layers, so a CI gate costs a fraction of a
second per target. Bad input of any kind (spec, settings, provider name)
prints `error: <place>: <problem and fix>` lines on stderr and exits 2;
`verify` exits 1 when a target is not equivalent to the spec. A bug exits 3
with one line (cloudfence.failures); `--debug` adds the traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from cloudfence import plugins
from cloudfence import verify as verification
from cloudfence.collection import fewer_collections, paused_for_process
from cloudfence.deployed import verify_deployed
from cloudfence.errors import CheckError, CloudfenceError, Problem
from cloudfence.export import check_manifests, write_export
from cloudfence.failures import GuardedGroup, print_problems
from cloudfence.intent import Intent
from cloudfence.lint import load_checked
from cloudfence.markdown import verdicts_markdown
from cloudfence.plan import Plan
from cloudfence.planfile import read_plan
from cloudfence.portability import portability
from cloudfence.provider import Provider, checked_plan, install_hint, validated
from cloudfence.render import (
    Result,
    count,
    intent_json,
    intent_text,
    plan_text,
    settings_text,
    table,
    verdicts_text,
)
from cloudfence.settings import describe
from cloudfence.stackconfig import Target, read_stack_file, resolve_spec, targets

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
            print_problems(exc.problems)
            raise click.exceptions.Exit(exc.exit_code) from None

    return wrapper


def strict_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--strict", is_flag=True,
                        help="Treat warnings as errors (exit 2), for CI.")(command)


def load(spec: str, strict: bool) -> Intent:
    """The spec's intent; its warnings go to stderr, and with --strict stop the command."""
    intent, warnings = load_checked(spec)
    print_problems(warnings, "warning")
    if warnings and strict:
        raise CloudfenceError(f"{count(len(warnings), 'warning')} and --strict: fix them, or drop --strict")
    return intent


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
                           help="YAML/JSON mapping of provider settings (KEY or PROVIDER.KEY); for a "
                                "Pulumi stack file use --stack.")(command)
    command = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                           help="Provider setting (repeatable); VALUE is read as YAML. PROVIDER.KEY=VALUE "
                                "applies to that provider only.")(command)
    return click.option("--stack", "stack_files", multiple=True, metavar="FILE",
                        help="A Pulumi stack file (repeatable): act on every provider its "
                             "cloudfence:providers names, with its settings; SPEC defaults to its "
                             "cloudfence:spec.")(command)


def _resolve(spec: str | None, provider: str | None, stack_files: Sequence[str], settings_file: str | None,
             assignments: Sequence[str], strict: bool) -> tuple[Intent, list[tuple[Target, Provider]]]:
    """The intent and the targets a command acts on, each provider found and its settings raw."""
    stacks = [read_stack_file(f) for f in stack_files]
    spec_path = resolve_spec(spec, stacks)
    found = installed()
    if provider is not None and provider != "all":
        get_provider(provider)  # a plugin that failed to load is named as such
    chosen = targets(provider, stacks, settings_file, assignments, list(found))
    if not chosen:
        raise CloudfenceError("no providers installed: install a provider plugin "
                              "(pip install -e . installs the built-in ones)")
    _settings_from_stacks(chosen, found)
    return load(spec_path, strict), [(t, found[t.provider]) for t in chosen]


def _settings_from_stacks(chosen: Sequence[Target], found: Mapping[str, Provider]) -> None:
    """Settings a stack file gives are checked here, so a problem names the file and the
    key as it is written there (config.cloudfence:providers.<provider>.<key>)."""
    for target in chosen:
        if target.stack is None:
            continue
        try:
            validated(found[target.provider], target.settings)
        except CheckError as exc:
            raise CheckError([Problem(p.where.replace("settings", f"config.cloudfence:providers."
                                                      f"{target.provider}", 1), p.message, target.stack)
                              if p.where.startswith("settings") else p for p in exc.problems]) from None


# ---------------------------------------------------------------- commands


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cloudfence")
    except PackageNotFoundError:
        return "0.1.0 (source tree)"


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="cloudfence")
@click.option("--debug", is_flag=True, help="On an internal error, print the traceback too.")
def main(debug: bool) -> None:
    """One network segmentation spec, deployed on every target and proven equivalent.

    SPEC may be '-' to read the spec from standard input.
    """


@main.command(short_help="Check a spec and print what it says.")
@click.argument("spec")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@strict_option
@_handles_errors
def validate(spec: str, fmt: str, strict: bool) -> None:
    """Load SPEC and print what it says, with flows merged per (source, destination).
    Warnings (what the spec says that does nothing) go to stderr."""
    intent = load(spec, strict)
    if fmt == "json":
        _print_json(intent_json(intent))
        return
    click.echo(intent_text(intent, "<stdin>" if spec == "-" else spec))


@main.command(short_help="Print the resource records a provider would create.")
@click.argument("spec", required=False)
@click.option("--provider", "-p", "provider_name", help="An installed provider (or 'all').")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--via-pulumi", is_flag=True,
              help="Register the plan through the provider's Pulumi SDK under the mock runtime "
                   "and print what was registered.")
@settings_options
@strict_option
@_handles_errors
def plan(spec: str | None, provider_name: str | None, fmt: str, via_pulumi: bool, settings_file: str | None,
         assignments: tuple[str, ...], stack_files: tuple[str, ...], strict: bool) -> None:
    """Compile SPEC for each target and print the resource records.

    With one target the JSON is that plan; with several (--stack, -p all) it is
    {"plans": [...]}, one per target.
    """
    intent, chosen = _resolve(spec, provider_name, stack_files, settings_file, assignments, strict)
    documents = []
    texts = []
    for target, provider in chosen:
        compiled = checked_plan(provider, intent, target.settings)
        if via_pulumi:
            document = _registered(intent, provider, target.settings, compiled)
        else:
            with fewer_collections():
                document = compiled.to_json()
        documents.append(document)
        if fmt != "json":  # the table compares every record with the plan: only when printed
            texts.append(plan_text(compiled, document, via_pulumi, provider.summarize, target.label))
    if fmt == "json":
        _print_json(documents[0] if len(documents) == 1 else {"plans": documents})
        return
    click.echo("\n\n".join(texts))


def _registered(intent: Intent, provider: Provider, settings: Mapping[str, Any],
                compiled: Plan) -> dict[str, Any]:
    """The plan as registered under the Pulumi mock runtime (the only path that loads Pulumi)."""
    try:
        from cloudfence.deploy.emitter import registered_plan
    except ImportError as exc:
        raise CloudfenceError(f"--via-pulumi needs the Pulumi SDK ({exc.name} is not installed): "
                              f"{install_hint(provider)}") from None
    return registered_plan(intent, provider, settings, compiled)


@main.command(short_help="Prove each target allows exactly what the spec says.")
@click.argument("spec", required=False)
@click.option("--provider", "-p", "provider_name",
              help="An installed provider, or 'all' for every installed one.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="markdown: a table and the details, for a CI summary or a PR comment.")
@click.option("--plan", "plan_file", metavar="FILE",
              help="Judge this plan JSON (as `plan --format json` writes it) instead of compiling one.")
@click.option("--deployed", "deployed_files", multiple=True, metavar="FILE",
              help="Judge deployed state (repeatable): a `pulumi stack export`, `kubectl get "
                   "networkpolicies -A -o json|yaml`, or `aws ec2 describe-security-groups` / "
                   "`describe-security-group-rules` JSON; settings from --stack / --set.")
@settings_options
@strict_option
@_handles_errors
def verify(spec: str | None, provider_name: str | None, fmt: str, plan_file: str | None,
           deployed_files: tuple[str, ...], settings_file: str | None, assignments: tuple[str, ...],
           stack_files: tuple[str, ...], strict: bool) -> None:
    """Prove, per target, that the compiled plan allows exactly what SPEC says.

    Exit status: 0 when every target is equivalent; 1 when any target is not
    (counterexamples are printed); 2 for bad input, or when a target cannot
    express the spec and no target was found different.
    """
    if plan_file is not None and deployed_files:
        raise CloudfenceError("--plan and --deployed each name what to judge: give one of them")
    if plan_file is not None:
        _verify_plan_file(spec, provider_name, fmt, plan_file, settings_file, assignments, stack_files,
                          strict)
        return
    intent, chosen = _resolve(spec, provider_name, stack_files, settings_file, assignments, strict)
    show_progress = len(chosen) > 1 and sys.stderr.isatty()
    results: list[Result] = []
    for target, provider in chosen:
        if show_progress:
            click.echo(f"verifying {target.label} ...", err=True)
        try:
            if deployed_files:
                verdict, compiled = verify_deployed(deployed_files, intent, provider, target.settings)
            else:
                compiled = checked_plan(provider, intent, target.settings)
                verdict = verification.verify_plan(intent, provider, compiled, checked=True)
        except CloudfenceError as exc:
            if len(chosen) == 1 or not (deployed_files or isinstance(exc, CheckError)):
                raise
            results.append(Result(target.label, None, exc.problems, len(intent.flows),
                                  name=target.provider, stack=target.stack))
            continue
        results.append(Result(target.label, verdict, [], len(intent.flows), len(compiled.resources),
                              provider.count_rules(compiled), target.provider, target.stack))
    _print_verdicts(results, fmt, intent)


def _verify_plan_file(spec: str | None, provider_name: str | None, fmt: str, plan_file: str,
                      settings_file: str | None, assignments: Sequence[str], stack_files: Sequence[str],
                      strict: bool) -> None:
    """`verify --plan FILE`: judge a plan JSON with the settings it records."""
    if settings_file or assignments or stack_files:
        raise CloudfenceError("--plan judges the plan with the settings it records: "
                              "drop --settings, --set and --stack")
    if provider_name is None or provider_name == "all":
        raise CloudfenceError("--plan judges one plan: name its provider with -p")
    if spec is None:
        raise CloudfenceError("give the SPEC the plan was compiled from")
    intent = load(spec, strict)
    provider = get_provider(provider_name)
    plan = read_plan(plan_file, intent, provider.name)
    try:
        verdict = verification.verify_plan(intent, provider, plan)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # a record the evaluator cannot read is the plan file's defect, not a bug: say so
        raise CloudfenceError(f"{plan_file}: a record cannot be read ({type(exc).__name__}: {exc}): "
                              "fix it, or write the plan again with `cloudfence plan --format json`"
                              ) from None
    _print_verdicts([Result(provider.name, verdict, [], len(intent.flows), len(plan.resources),
                            provider.count_rules(plan), provider.name)], fmt, intent)


def _print_verdicts(results: list[Result], fmt: str, intent: Intent) -> None:
    if fmt == "json":
        _print_json({"spec": intent.name, "targets": [r.to_json() for r in results],
                     "portable": portability(results).to_json()})
    elif fmt == "markdown":
        click.echo(verdicts_markdown(results, intent.name), nl=False)
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
            ("manifests", "yes (cloudfence export)" if caps["manifests"] else "no"),
        ]
        refused = dict(getattr(p, "refused_endpoints", {}))
        rows += [("endpoint " + k, v) for k, v in caps["platformEndpoints"].items()]
        rows += [("endpoint " + k, "refused: " + v) for k, v in sorted(refused.items())]
        if not caps["platformEndpoints"] and not refused:
            rows.append(("platform endpoints", "none"))
        rows += [("quota " + k, v) for k, v in caps["quotas"].items()]
        click.echo(table(rows, indent="  "))
        click.echo(settings_text(p.settings_model))


@main.command(short_help="Write native manifests (Kubernetes NetworkPolicy YAML).")
@click.argument("spec", required=False)
@click.option("--provider", "-p", "provider_name")
@click.option("--output", "-o", "out_dir", required=True, metavar="DIR",
              help="Folder for the manifests (created if missing), owned by the export.")
@click.option("--force", is_flag=True, help="Write even beside files this export did not write.")
@settings_options
@strict_option
@_handles_errors
def export(spec: str | None, provider_name: str | None, out_dir: str, force: bool, settings_file: str | None,
           assignments: tuple[str, ...], stack_files: tuple[str, ...], strict: bool) -> None:
    """Write the providers' native manifests (e.g. Kubernetes NetworkPolicy YAML) and a
    kustomization.yaml to DIR, for `kubectl apply -k DIR` or GitOps. With --stack,
    every provider of the stack that writes manifests does.

    The export owns DIR: files an earlier export of the same spec wrote that the
    new plan no longer has are removed, and files it did not write stop it
    (unless --force).
    """
    intent, chosen = _resolve(spec, provider_name, stack_files, settings_file, assignments, strict)
    able = [(t, p) for t, p in chosen if p.capabilities.manifests]
    if not able:
        can = [n for n, p in installed().items() if p.capabilities.manifests]
        names = ", ".join(t.provider for t, _ in chosen)
        raise CloudfenceError(f"provider {names} cannot export manifests (providers that can: "
                              f"{', '.join(can) or 'none installed'})")
    files: dict[str, str] = {}
    for target, provider in able:
        written = provider.manifests(checked_plan(provider, intent, target.settings))
        check_manifests(provider.name, intent.name, written)
        clash = sorted(set(written) & set(files))
        if clash:
            raise CloudfenceError(f"two providers write {clash[0]}: export them one at a time with -p")
        files.update(written)
    done = write_export(out_dir, intent.name, files, force)
    for path in done.written:
        click.echo(str(path))
    for path in done.removed:
        click.echo(f"removed {path.name} (no longer in the plan)", err=True)
    click.echo(f"{count(len(done.written), 'file')} written to {out_dir}", err=True)


# ---------------------------------------------------------------- helpers


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


# ------------------------------------------------------------ review verbs
# diff, query and graph read intents (and for diff/query, plans); their modules are
# imported by the command that needs them.


def _review_targets(provider_name: str | None, stack_files: Sequence[str], settings_file: str | None,
                    assignments: Sequence[str]) -> list[tuple[Target, Provider]]:
    """No provider and no stack: the spec only; else the targets as plan and verify choose them."""
    if provider_name is None and not stack_files:
        return []
    found = installed()
    if provider_name is not None and provider_name != "all":
        get_provider(provider_name)  # a plugin that failed to load is named as such
    stacks = [read_stack_file(f) for f in stack_files]
    chosen = targets(provider_name, stacks, settings_file, assignments, list(found))
    if not chosen:
        raise CloudfenceError("no providers installed: install a provider plugin "
                              "(pip install -e . installs the built-in ones)")
    _settings_from_stacks(chosen, found)
    return [(t, found[t.provider]) for t in chosen]


def _load_text(text: str, file: str, strict: bool) -> Intent:
    """Like `load`, for a spec that is not a file (a git revision's)."""
    from cloudfence.intent import build_intent
    from cloudfence.lint import lint
    from cloudfence.spec import parse_spec

    spec = parse_spec(text, file)
    intent = build_intent(spec)
    warnings = lint(spec, intent)
    print_problems(warnings, "warning")
    if warnings and strict:
        raise CloudfenceError(f"{count(len(warnings), 'warning')} and --strict: fix them, or drop --strict")
    return intent


def _spec_at_revision(path: str, rev: str) -> tuple[str, str]:
    """The text of the spec at PATH as it was at git revision REV, and its name (REV:path)."""
    import subprocess
    from pathlib import Path

    if path == "-":
        raise CloudfenceError("--git compares a spec file with its past: give its path, not '-'")
    spec = Path(path).resolve()
    if not spec.is_file():
        raise CloudfenceError(f"{path}: spec file not found: check the path")

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["git", "-C", str(spec.parent), *args], capture_output=True, text=True,
                                  timeout=60)
        except FileNotFoundError:
            raise CloudfenceError("--git needs the git command: install git, or compare two files "
                                  "(cloudfence diff OLD NEW)") from None

    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise CloudfenceError(f"{path}: not inside a git repository: compare two files instead "
                              "(cloudfence diff OLD NEW)")
    rel = spec.relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    shown = git("show", f"{rev}:{rel}")
    if shown.returncode != 0:
        why = (shown.stderr.strip().splitlines() or ["unknown revision"])[-1].removeprefix("fatal: ")
        raise CloudfenceError(f"--git {rev}: cannot read {rel} at that revision ({why}): give a commit, "
                              "branch or tag where the file exists, e.g. --git HEAD or --git origin/main")
    return shown.stdout, f"{rev}:{rel}"


@main.command(short_help="What a change of the spec opens and closes, per target.")
@click.argument("specs", nargs=-1, metavar="OLD NEW")
@click.option("--git", "rev", metavar="REV",
              help="Compare the spec file (one argument) with the same path at git revision REV.")
@click.option("--provider", "-p", "provider_name",
              help="Also the resources each target would create, update or replace: a provider or 'all'.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@settings_options
@strict_option
@_handles_errors
def diff(specs: tuple[str, ...], rev: str | None, provider_name: str | None, fmt: str,
         settings_file: str | None, assignments: tuple[str, ...], stack_files: tuple[str, ...],
         strict: bool) -> None:
    """The connections a change of the spec opens and closes, read from the two
    intents (not a text diff), and with --provider the records each target would
    create, update, replace or delete, replacements called out.

    Exit status: 0 no change; 1 changes found; 2 bad input.
    """
    from cloudfence.changes import (
        TargetChanges,
        changes_markdown,
        changes_text,
        intent_changes,
        resource_changes,
    )

    if rev is not None:
        if len(specs) != 1:
            raise CloudfenceError("--git REV compares one spec file with its past: give one SPEC "
                                  f"(got {len(specs)})")
        text, old_name = _spec_at_revision(specs[0], rev)
        old, new_name = _load_text(text, old_name, strict), specs[0]
        new = load(specs[0], strict)
    else:
        if len(specs) != 2:
            raise CloudfenceError(f"diff takes OLD and NEW spec files (got {len(specs)}), "
                                  "or one file with --git REV")
        old_name, new_name = specs
        old, new = load(old_name, strict), load(new_name, strict)
    changes = intent_changes(old, new, old_name, new_name)
    chosen = _review_targets(provider_name, stack_files, settings_file, assignments)
    failed = False
    for target, provider in chosen:
        settings = target.settings
        try:
            before = checked_plan(provider, old, settings)
            after = checked_plan(provider, new, settings)
        except CheckError as exc:
            if len(chosen) == 1:
                raise
            failed = True
            changes.targets.append(TargetChanges(target.label, problems=[str(p) for p in exc.problems]))
            continue
        found = resource_changes(before, after, provider.replaced_by)
        changes.targets.append(TargetChanges(target.label, found))
    if fmt == "json":
        _print_json(changes.to_json())
    elif fmt == "markdown":
        click.echo(changes_markdown(changes), nl=False)
    else:
        click.echo(changes_text(changes))
    if changes.changed:
        raise click.exceptions.Exit(EXIT_DIFFERENT)
    if failed:
        raise click.exceptions.Exit(EXIT_BAD_INPUT)


@main.command(short_help="Can FROM reach TO, and which flow and records allow it.")
@click.argument("spec")
@click.argument("src", metavar="FROM")
@click.argument("dst", metavar="TO")
@click.argument("port", required=False)
@click.option("--provider", "-p", "provider_name",
              help="Also answer per target from its records: a provider or 'all'.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@settings_options
@strict_option
@_handles_errors
def query(spec: str, src: str, dst: str, port: str | None, provider_name: str | None, fmt: str,
          settings_file: str | None, assignments: tuple[str, ...], stack_files: tuple[str, ...],
          strict: bool) -> None:
    """Whether FROM may open a connection to TO (on PORT: tcp/443, udp/53, icmp, or a
    number for TCP), which flows allow it, and with --provider which records allow it
    at each end. FROM and TO are segments, networks, internet, platform endpoints or
    one address (10.20.3.7). Networks answer by name, and with --provider also by the
    addresses they stand for on that target.

    Exit status: 0 allowed; 1 denied; 2 bad input.
    """
    from cloudfence.provider import validated
    from cloudfence.query import (
        Answer,
        answer_text,
        matching_flows,
        parse_query_port,
        resolve_end,
        target_answer,
    )
    from cloudfence.space import space_for

    intent = load(spec, strict)
    ports = parse_query_port(port)
    chosen = _review_targets(provider_name, stack_files, settings_file, assignments)
    targets = [provider for _, provider in chosen]
    plans = {}
    problems: dict[str, list[str]] = {}
    for target, provider in chosen:
        try:
            plans[provider.name] = checked_plan(provider, intent, target.settings)
        except CheckError as exc:
            if len(chosen) == 1:
                raise
            problems[provider.name] = [str(p) for p in exc.problems]
    implied = [f for p in plans.values() for f in p.implied]
    platform = [ep.name for f in implied for ep in (f.src, f.dst) if ep.kind == "platform"]
    space = space_for(intent)
    a, b = resolve_end(intent, src, "FROM", space, platform), resolve_end(intent, dst, "TO", space, platform)
    extra = [(f, name) for name, p in plans.items() for f in p.implied]
    answer = Answer(a, b, ports, matching_flows(intent, space, a, b, ports, extra))
    from cloudfence.query import TargetAnswer

    for provider in targets:
        if provider.name in problems:
            answer.targets.append(TargetAnswer(provider.name, problems=problems[provider.name]))
            continue
        compiled = plans[provider.name]
        here = space_for(intent, validated(provider, compiled.settings))
        ta = resolve_end(intent, src, "FROM", here, platform)
        tb = resolve_end(intent, dst, "TO", here, platform)
        reach = provider.evaluate(compiled, intent)
        answer.targets.append(target_answer(provider.name, compiled, reach, here, intent, ta, tb, ports,
                                            provider.record_rules(compiled, intent)))
    if fmt == "json":
        _print_json(answer.to_json())
    else:
        click.echo(answer_text(answer))
    if not answer.allowed:
        raise click.exceptions.Exit(EXIT_DIFFERENT)


@main.command(short_help="Draw the segments and flows (Mermaid, DOT, SVG), or print the matrix.")
@click.argument("spec")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg", "table", "json"]),
              help="Diagram: mermaid (default), dot, svg (needs Graphviz) or json; "
                   "with --matrix: table (default) or json.")
@click.option("--matrix", "as_matrix", is_flag=True, help="Segments x segments with the ports allowed.")
@strict_option
@_handles_errors
def graph(spec: str, fmt: str | None, as_matrix: bool, strict: bool) -> None:
    """Segments grouped by Kubernetes namespace (and outside the cluster), networks,
    internet and platform endpoints, with every flow as a labelled edge."""
    from cloudfence.graph import build_graph, dot, matrix_json, matrix_text, mermaid

    intent = load(spec, strict)
    if as_matrix:
        fmt = fmt or "table"
        if fmt not in ("table", "json"):
            raise CloudfenceError(f"--matrix prints a table or JSON, not {fmt}: use --format table|json, "
                                  "or drop --matrix for a diagram")
        if fmt == "json":
            _print_json(matrix_json(intent))
        else:
            click.echo(matrix_text(intent))
        return
    fmt = fmt or "mermaid"
    if fmt == "table":
        raise CloudfenceError("a diagram is mermaid, dot, svg or json: add --matrix for the table")
    drawn = build_graph(intent)
    if fmt == "json":
        _print_json(drawn.to_json())
    elif fmt == "mermaid":
        click.echo(mermaid(drawn))
    elif fmt == "dot":
        click.echo(dot(drawn))
    else:
        click.echo(_svg(dot(drawn)), nl=False)


def _svg(dot_text: str) -> str:
    import shutil
    import subprocess

    binary = shutil.which("dot")
    if binary is None:
        raise CloudfenceError("--format svg needs Graphviz's `dot` command: install it (apt-get install "
                              "graphviz, or brew install graphviz), or use --format dot and render elsewhere")
    done = subprocess.run([binary, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise CloudfenceError(f"Graphviz dot failed: {why}: use --format dot and render it elsewhere")
    return done.stdout

def run() -> None:
    """The `cloudfence` command: `main` in a process of its own."""
    paused_for_process()
    main(prog_name="cloudfence")


if __name__ == "__main__":
    run()
