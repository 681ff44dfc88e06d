"""Tests for the offline engine: what a program registers under the mock runtime, recorded exactly."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime.mocks import MockResourceArgs

from cloudfence.deploy.engine import UNKNOWN, Registered, RunResult, _Mocks, plain, run_program, run_stack

COMPONENT = "cloudfence:index:Segmentation"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SPEC = {
    "podSelector": {"matchLabels": {"app": "x"}},
    "policyTypes": ["Ingress"],
    "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}],
}


class Segmentation(pulumi.ComponentResource):
    """A minimal component parenting one NetworkPolicy, like the real emitters do."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT, name, None, opts)
        self.policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-web",
            metadata={"name": "web", "namespace": "prod"},
            spec=SPEC,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.register_outputs({"policyId": self.policy.id})


def segmentation_program(seen_ids: list[str] | None = None) -> None:
    namespace = k8s.core.v1.Namespace("prod", metadata={"name": "prod"})
    seg = Segmentation("seg", opts=pulumi.ResourceOptions(depends_on=[namespace]))
    k8s.core.v1.ConfigMap(
        "seg-marker",
        metadata={"namespace": "prod"},
        data={"policy": seg.policy.id},
        opts=pulumi.ResourceOptions(delete_before_replace=True, ignore_changes=["data"]),
    )
    if seen_ids is not None:
        seg.policy.id.apply(seen_ids.append)
    pulumi.export("policyId", seg.policy.id)
    pulumi.export("port", 80)
    pulumi.export("labels", {"app": "x"})


def by_name(result: RunResult) -> dict[str, Registered]:
    return {r.name: r for r in result.resources}


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_program(segmentation_program)


def test_records_types_names_and_parents(result: RunResult) -> None:
    assert [(r.type, r.name, r.parent, r.parent_type, r.custom) for r in result.resources] == [
        (COMPONENT, "seg", None, None, False),
        ("kubernetes:core/v1:ConfigMap", "seg-marker", None, None, True),
        ("kubernetes:core/v1:Namespace", "prod", None, None, True),
        (POLICY, "seg-web", "seg", COMPONENT, True),
    ]


def test_inputs_are_wire_names_with_ints_and_id_references(result: RunResult) -> None:
    records = by_name(result)
    assert records["seg-web"].inputs == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": SPEC,
    }
    port = records["seg-web"].inputs["spec"]["ingress"][0]["ports"][0]["port"]
    assert type(port) is int
    assert records["seg-marker"].inputs["data"] == {"policy": "${seg-web.id}"}
    assert records["seg"].inputs == {}


def test_options_record_dependencies_and_flags(result: RunResult) -> None:
    records = by_name(result)
    assert records["seg"].options == {"dependsOn": ["prod"]}
    # The SDK itself adds the type alias from the old extensions/v1beta1 API.
    assert records["seg-web"].options == {
        "protect": True,
        "aliases": [{"type": "kubernetes:extensions/v1beta1:NetworkPolicy"}],
    }
    # dependsOn is what the engine orders by: input references count, not only depends_on=.
    assert records["seg-marker"].options == {
        "dependsOn": ["seg-web"],
        "deleteBeforeReplace": True,
        "ignoreChanges": ["data"],
    }
    assert records["prod"].options == {}


def test_exports_are_resolved_plain_values(result: RunResult) -> None:
    assert result.outputs == {"policyId": "${seg-web.id}", "port": 80, "labels": {"app": "x"}}
    assert type(result.outputs["port"]) is int


def test_repeated_runs_are_identical(result: RunResult) -> None:
    first = run_program(segmentation_program)
    second = run_program(segmentation_program)
    assert first == second == result
    assert repr(first) == repr(second)  # key order is stable too


def test_apply_callbacks_run_and_ids_are_known_after_up() -> None:
    seen: list[str] = []
    run_program(lambda: segmentation_program(seen))
    assert seen == ["${seg-web.id}"]


def test_preview_leaves_ids_unknown() -> None:
    assert _Mocks(preview=True).new_resource(MockResourceArgs("t:m:T", "n", {"a": 1})) == ("", {})
    seen: list[str] = []
    result = run_program(lambda: segmentation_program(seen), preview=True)
    assert seen == []  # callbacks on unknown values do not run in a preview
    records = by_name(result)
    assert records["seg-marker"].inputs["data"] == {"policy": UNKNOWN}
    assert records["seg-web"].inputs["spec"] == SPEC  # known inputs are still recorded
    assert result.outputs == {"policyId": UNKNOWN, "port": 80, "labels": {"app": "x"}}


class ProgramError(Exception):
    pass


def test_program_exception_propagates_and_next_run_is_clean(result: RunResult) -> None:
    def failing() -> None:
        k8s.core.v1.Namespace("half-done")
        raise ProgramError("bad spec")

    with pytest.raises(ProgramError, match="bad spec"):
        run_program(failing)
    assert run_program(segmentation_program) == result


def test_exception_in_apply_propagates() -> None:
    def failing() -> None:
        namespace = k8s.core.v1.Namespace("ns")
        namespace.id.apply(lambda _: int("not a number"))

    with pytest.raises(ValueError, match="not a number"):
        run_program(failing)


def test_config_is_namespaced_encoded_and_not_leaked() -> None:
    def program() -> None:
        config = pulumi.Config()
        pulumi.export("spec", config.require_object("spec"))
        pulumi.export("strict", config.require_bool("strict"))
        pulumi.export("replicas", config.require_int("replicas"))
        pulumi.export("region", pulumi.Config("aws").require("region"))
        pulumi.export("stack", f"{pulumi.get_project()}/{pulumi.get_stack()}")

    config = {"spec": {"segments": ["web"]}, "strict": True, "replicas": 3, "aws:region": "eu-west-1"}
    assert run_program(program, config=config, stack="prod").outputs == {
        "spec": {"segments": ["web"]},
        "strict": True,
        "replicas": 3,
        "region": "eu-west-1",
        "stack": "cloudfence/prod",
    }
    unset = run_program(lambda: pulumi.export("spec", pulumi.Config().get("spec") or "unset"))
    assert unset.outputs == {"spec": "unset"}


def test_runs_from_inside_an_event_loop(result: RunResult) -> None:
    async def main() -> RunResult:
        return run_program(segmentation_program)

    assert asyncio.run(main()) == result


def test_an_async_program_is_awaited(result: RunResult) -> None:
    """A program may be a coroutine function, as the language host allows: it registers
    and exports what the same program written synchronously does."""

    async def program() -> None:
        await asyncio.sleep(0)
        segmentation_program()

    assert run_program(program) == result


def test_reads_and_stack_references_work_offline() -> None:
    def program() -> None:
        network = pulumi.StackReference("org/network/prod")
        existing = k8s.core.v1.Namespace.get("existing", "prod")
        k8s.core.v1.ConfigMap(
            "uses-both",
            data={"vpc": network.get_output("vpcId").apply(lambda v: v or "none")},
            opts=pulumi.ResourceOptions(depends_on=[existing]),
        )
        pulumi.export("existingId", existing.id)

    result = run_program(program)
    (record,) = result.resources  # reads are not registrations
    assert record.inputs["data"] == {"vpc": "none"}
    assert record.options == {"dependsOn": ["existing", "org/network/prod"]}
    assert result.outputs == {"existingId": "prod"}


def test_plain_normalises_whole_floats_recursively() -> None:
    assert plain({"b": [1.0, 2.5, True, {"c": 443.0}], "a": None}) == {
        "a": None,
        "b": [1, 2.5, True, {"c": 443}],
    }


def write_stack(stack_dir: Path, main: str) -> None:
    (stack_dir / "Pulumi.yaml").write_text("name: edge\nruntime: python\n")
    (stack_dir / "Pulumi.dev.yaml").write_text(
        textwrap.dedent(
            """\
            config:
              aws:region: eu-west-1
              cloudfence:spec:
                segments:
                  - {name: web, ports: [443]}
              replicas: 3
              strict: true
            """
        )
    )
    (stack_dir / "__main__.py").write_text(textwrap.dedent(main))


def test_run_stack_reads_stack_config_and_runs_main(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(
        "import pulumi_kubernetes as k8s\nk8s.core.v1.Namespace('from-import', metadata={'name': 'x'})\n"
    )
    write_stack(
        tmp_path,
        """\
        import os
        import pulumi
        import helper  # local module, importable because the stack dir is on sys.path

        config = pulumi.Config()
        pulumi.export("region", pulumi.Config("aws").require("region"))
        pulumi.export("spec", pulumi.Config("cloudfence").require_object("spec"))
        pulumi.export("replicas", config.require_int("replicas"))
        pulumi.export("strict", config.require_bool("strict"))
        pulumi.export("where", f"{pulumi.get_project()}/{pulumi.get_stack()}")
        pulumi.export("cwd", os.getcwd())
        """,
    )
    cwd, path = os.getcwd(), list(sys.path)
    first = run_stack(tmp_path, "dev")
    assert first.outputs == {
        "region": "eu-west-1",
        "spec": {"segments": [{"name": "web", "ports": [443]}]},
        "replicas": 3,
        "strict": True,
        "where": "edge/dev",
        "cwd": str(tmp_path.resolve()),
    }
    assert (os.getcwd(), sys.path) == (cwd, path)
    # The local module runs again on the second run, as it would in a fresh `pulumi up`.
    second = run_stack(str(tmp_path), "dev")
    assert [r.name for r in second.resources] == ["from-import"]
    assert second == first


def test_run_stack_propagates_errors_and_restores_cwd(tmp_path: Path) -> None:
    write_stack(tmp_path, "raise RuntimeError('broken stack')\n")
    cwd = os.getcwd()
    with pytest.raises(RuntimeError, match="broken stack"):
        run_stack(tmp_path, "dev")
    assert os.getcwd() == cwd
