"""Offline engine: run a Pulumi program under the SDK's mock runtime and record what it registers.

There is no Pulumi CLI or cloud here, so this is how the Pulumi layer is exercised: the program
runs as the language host would run it (``run_in_stack`` on a fresh event loop, on a thread of
its own, followed by one turn of the loop) but against a recording mock monitor. Every run
happens in a copied ``contextvars`` context with freshly reset settings, root stack and
config, so runs do not leak into one another or into the caller. An interrupted caller does
not wait for its program: the program's thread is a daemon and may still finish its run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import json
import os
import runpy
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.settings import SETTINGS, reset_options
from pulumi.runtime.stack import run_in_stack

__all__ = ["UNKNOWN", "Registered", "RunResult", "run_program", "run_stack"]

STACK_TYPE: Final = "pulumi:pulumi:Stack"
UNKNOWN: Final = "<unknown>"
"""Stands in for a value that is not known yet (only in preview), so records stay plain data."""

_ALIAS_SPEC_FIELDS: Final = ("name", "type", "stack", "project", "parentUrn", "noParent")


@dataclass(frozen=True)
class Registered:
    """One resource registration as the engine would receive it.

    ``options["dependsOn"]`` is the request's full dependency list, as the engine orders by it:
    explicit ``depends_on`` plus every resource whose outputs feed an input. A ``depends_on``
    on a component expands to the component's custom children and is not inherited by them.
    ``options["aliases"]`` includes aliases the provider SDK adds itself (k8s, azure-native).
    """

    type: str
    name: str
    parent: str | None
    parent_type: str | None
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]


@dataclass(frozen=True)
class RunResult:
    """Everything a program registered (root stack excluded, sorted) and its stack exports."""

    resources: tuple[Registered, ...]
    outputs: dict[str, Any]


def plain(value: Any) -> Any:
    """Turn deserialized RPC values into plain, comparable data.

    Mocks deliver every number as a float (443.0), secrets as signature-tagged dicts and
    preview unknowns as ``Unknown`` objects; none of that should reach assertions. Keys are
    sorted because protobuf Struct order varies between runs and records should repr stably.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


#: Computed outputs other than `id` and `name` that plans reference (an S3 gateway
#: endpoint's `prefixListId`): the mocks give each resource `${<name>.<output>}` for them.
REFERENCED_OUTPUTS = ("prefixListId",)


class _Mocks(Mocks):
    """Echo inputs as state and give ids that name their resource, so references read clearly.
    A resource's `name` output (its physical name, as azure-native Subnets reference their
    virtual network) reads `${<logical name>.name}` the same way, unless an input sets it;
    so do the REFERENCED_OUTPUTS."""

    def __init__(self, preview: bool) -> None:
        self.preview = preview

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            # The SDK expects an "outputs" map; another stack's outputs are unknowable offline.
            return args.resource_id, {**args.inputs, "outputs": {}, "secretOutputNames": []}
        if args.resource_id:  # .get() reads keep the id they asked for
            return args.resource_id, dict(args.inputs)
        if self.preview:  # the engine knows neither ids nor outputs during a preview
            return "", {}
        computed = {out: f"${{{args.name}.{out}}}" for out in ("name", *REFERENCED_OUTPUTS)}
        return f"${{{args.name}.id}}", {**computed, **args.inputs}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(MockMonitor):
    """Mock monitor that also keeps parent, dependencies and options of every registration.

    The RPCs arrive on executor threads, hence the lock.
    """

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self._lock = threading.Lock()
        self._by_urn: dict[str, tuple[str, str]] = {}
        self._requests: list[Any] = []
        self.stack_urn: str | None = None
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        with self._lock:
            self._by_urn[response.urn] = (request.name, request.type)
            if request.type == STACK_TYPE:
                self.stack_urn = response.urn
            else:
                self._requests.append(request)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            outputs = plain(rpc.deserialize_properties(request.outputs))
            with self._lock:
                self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def _lookup(self, urn: str) -> tuple[str, str] | None:
        """Logical (name, type) of a registered URN; None for the root stack."""
        if not urn or urn == self.stack_urn:
            return None
        if urn in self._by_urn:
            return self._by_urn[urn]
        # Not registered in this run (e.g. a read resource): parse the mock URN instead,
        # urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>.
        parts = urn.split("::")
        if len(parts) < 4:
            return None
        return "::".join(parts[3:]), parts[2].split("$")[-1]

    def _options(self, request: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        depends_on = sorted(
            {ref[0] for urn in request.dependencies if (ref := self._lookup(urn)) is not None}
        )
        if depends_on:
            options["dependsOn"] = depends_on
        if request.HasField("protect") and request.protect:
            options["protect"] = True
        if request.deleteBeforeReplace:
            options["deleteBeforeReplace"] = True
        aliases = [self._alias(alias) for alias in request.aliases]
        aliases += [{"urn": urn} for urn in request.aliasURNs]
        if aliases:
            options["aliases"] = sorted(aliases, key=lambda a: json.dumps(a, sort_keys=True))
        if request.ignoreChanges:
            options["ignoreChanges"] = list(request.ignoreChanges)
        if request.provider:
            # A provider reference is "<urn>::<id>"; report the provider's logical name.
            provider = self._lookup(request.provider.rsplit("::", 1)[0])
            options["provider"] = provider[0] if provider else request.provider
        return options

    def _alias(self, alias: Any) -> dict[str, Any]:
        if alias.urn:
            return {"urn": alias.urn}
        spec = {f: getattr(alias.spec, f) for f in _ALIAS_SPEC_FIELDS if getattr(alias.spec, f)}
        if "parentUrn" in spec:
            parent = self._lookup(spec.pop("parentUrn"))
            spec["parent"] = parent[0] if parent else None
        return spec

    def records(self) -> tuple[Registered, ...]:
        """Build the records once the run is over, when every parent URN is known."""
        with self._lock:
            requests = list(self._requests)
        records = []
        for request in requests:
            parent = self._lookup(request.parent)
            records.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    parent=parent[0] if parent else None,
                    parent_type=parent[1] if parent else None,
                    custom=bool(request.custom),
                    inputs=plain(rpc.deserialize_properties(request.object)),
                    options=self._options(request),
                )
            )
        return tuple(sorted(records, key=lambda r: (r.type, r.name)))


def _config_value(value: Any) -> str:
    """Encode a config value the way the CLI hands it to a program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


def _full_config(config: Mapping[str, Any] | None, project: str) -> dict[str, str]:
    """Namespace bare keys with the project, as ``pulumi config set foo`` does."""
    full: dict[str, str] = {}
    for key, value in (config or {}).items():
        if value is None:
            continue
        full[key if ":" in key else f"{project}:{key}"] = _config_value(value)
    return full


def _give_thread_a_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    """Mock RPCs need an event loop on their executor thread; own it so it gets closed."""
    worker_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(worker_loop)
    loops.append(worker_loop)


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop "exception was never retrieved" reports; the run re-raises the program's error.

    A failing program leaves the SDK's resolver futures holding the same exception, and
    asyncio would log each of them when collected. The language host silences these too.
    """
    if "never retrieved" not in context.get("message", ""):
        loop.default_exception_handler(context)


def _settled(program: Callable[[], Any]) -> Callable[[], Awaitable[None]]:
    """The program (awaited, if it is async, as ``run_in_stack`` would), then one turn of
    the event loop.

    A synchronous program returns before any of its registrations has started, so the
    runtime's final wait would find no RPC in flight and poll every pending output instead,
    each poll over all of them (quadratic in the outputs). After one turn every registration
    is an RPC in flight, which the runtime awaits one by one. What registers is unchanged.
    """

    async def run() -> None:
        result = program()
        if inspect.isawaitable(result):
            await result
        await asyncio.sleep(0)

    return run


def _run(
    program: Callable[[], None],
    config: dict[str, str],
    project: str,
    stack: str,
    preview: bool,
    root_directory: str | None,
) -> RunResult:
    """Run one program; must be called inside a fresh ``contextvars`` context."""
    reset_options(
        project=project,
        stack=stack,
        root_directory=root_directory,
        preview=preview,
        organization="organization",
    )
    monitor = _RecordingMonitor(_Mocks(preview))
    SETTINGS.monitor = monitor
    SETTINGS.engine = MockEngine(None)
    set_all_config(config, [])
    loop = asyncio.new_event_loop()
    worker_loops: list[asyncio.AbstractEventLoop] = []
    loop.set_default_executor(
        concurrent.futures.ThreadPoolExecutor(
            thread_name_prefix="cloudfence-engine",
            initializer=_give_thread_a_loop,
            initargs=(worker_loops,),
        )
    )
    loop.set_exception_handler(_quiet_unretrieved)
    try:
        loop.run_until_complete(run_in_stack(_settled(program)))
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        for worker_loop in worker_loops:  # their threads have exited with the executor
            worker_loop.close()
        set_all_config({}, [])
    return RunResult(resources=monitor.records(), outputs=monitor.stack_outputs)


def run_program(
    program: Callable[[], None],
    *,
    config: Mapping[str, Any] | None = None,
    project: str = "cloudfence",
    stack: str = "dev",
    preview: bool = False,
) -> RunResult:
    """Run ``program`` as ``pulumi up`` (or ``preview``) would, offline, and return what it did.

    Config keys may be full ("aws:region") or bare ("spec", namespaced with ``project``);
    dicts and lists are passed as JSON, as the CLI does. Exceptions raised by the program
    propagate unchanged.
    """
    return _run_isolated(program, _full_config(config, project), project, stack, preview, None)


def _run_isolated(
    program: Callable[[], None],
    config: dict[str, str],
    project: str,
    stack: str,
    preview: bool,
    root_directory: str | None,
) -> RunResult:
    """Run on a thread of its own, in a copy of the caller's context.

    The SDK records every resource's creation stack, frame by frame, up to the thread's
    first: on a fresh thread that is the program's own frames, not also the caller's (a CLI
    or a test runner) once per resource. It also lets async callers run a program, which
    cannot start a second event loop on their thread.
    """
    ctx = contextvars.copy_context()
    args = (program, config, project, stack, preview, root_directory)
    outcome: list[RunResult] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(ctx.run(_run, *args))
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)

    # A daemon: an interrupted caller exits without waiting for the program to finish.
    thread = threading.Thread(target=run, name="cloudfence-engine", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


@contextlib.contextmanager
def _program_environment(stack_dir: Path) -> Iterator[None]:
    """Give the program the cwd, sys.path and fresh local imports the language host would."""
    old_cwd = os.getcwd()
    old_path = list(sys.path)
    old_modules = set(sys.modules)
    os.chdir(stack_dir)
    sys.path.insert(0, str(stack_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        # Forget the stack's own modules: the next run must execute them again, as a new
        # process would, or their module-level resources would silently not register.
        for name in set(sys.modules) - old_modules:
            module_file = getattr(sys.modules[name], "__file__", None)
            if module_file and Path(module_file).resolve().is_relative_to(stack_dir):
                del sys.modules[name]


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at top level")
    return data


def _stack_config(project_file: dict[str, Any], stack_file: dict[str, Any],
                  stack_path: Path) -> dict[str, Any]:
    """Project-level defaults from Pulumi.yaml, overridden by the stack file's ``config:``."""
    config: dict[str, Any] = {}
    for key, declared in (project_file.get("config") or {}).items():
        if isinstance(declared, dict) and ("type" in declared or "default" in declared):
            if "default" in declared:
                config[key] = declared["default"]
        else:
            config[key] = declared
    for key, value in (stack_file.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise ValueError(f"{stack_path}: {key} is an encrypted secret; offline runs cannot decrypt it")
        config[key] = value
    return config


def run_stack(stack_dir: str | Path, stack: str) -> RunResult:
    """Run <stack_dir>/__main__.py as `pulumi up` would, with config from Pulumi.<stack>.yaml."""
    stack_dir = Path(stack_dir).resolve()
    project_file = _load_yaml(stack_dir / "Pulumi.yaml")
    if not project_file.get("name"):
        raise ValueError(f"{stack_dir / 'Pulumi.yaml'}: missing project name")
    project = str(project_file["name"])
    stack_path = stack_dir / f"Pulumi.{stack}.yaml"
    config = _stack_config(project_file, _load_yaml(stack_path), stack_path)
    main = stack_dir / str(project_file.get("main") or ".")
    if main.is_dir():
        main = main / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    # cwd and sys.path cover the whole run, not just the module body: apply callbacks and
    # component code run later on the event loop and may read files relative to the stack.
    with _program_environment(stack_dir):
        return _run_isolated(program, _full_config(config, project), project, stack, False, str(stack_dir))
