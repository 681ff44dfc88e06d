"""Provider settings from --set and --settings: values read as YAML, scoped per provider,
and a Pulumi stack file read the way the stack program reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cloudfence.plugins
from cloudfence.cli import main
from cloudfence.errors import CloudfenceError
from cloudfence.stackconfig import load_settings, parse_assignment
from tests.fakeplugin import EXAMPLE


@pytest.mark.parametrize(("item", "expected"), [
    ("nacls=true", ("nacls", True)),
    ("vpcId=vpc-0abc", ("vpcId", "vpc-0abc")),
    ("maxRules=60", ("maxRules", 60)),
    ("name=", ("name", "")),
    ("subnets=[subnet-1, subnet-2]", ("subnets", ["subnet-1", "subnet-2"])),
    ('note="a: b"', ("note", "a: b")),
    ("aws.nacls=false", ("aws.nacls", False)),
])
def test_values_are_read_as_yaml(item: str, expected: tuple) -> None:
    assert parse_assignment(item) == expected


@pytest.mark.parametrize("item", ["nacls", "=true", "note=[unclosed"])
def test_bad_assignments(item: str) -> None:
    with pytest.raises(CloudfenceError) as exc:
        parse_assignment(item)
    assert str(exc.value.problems[0]).startswith(f"--set {item}: ")


def test_scoped_settings_win_over_common_ones() -> None:
    s = load_settings(None, ["dns=true", "fakecloud.dns=false", "listPrefix=a-"])
    assert s.for_provider("fakecloud") == {"dns": False, "listPrefix": "a-"}
    assert s.for_provider("kubernetes") == {"dns": True, "listPrefix": "a-"}


def test_settings_file_then_set(tmp_path: Path) -> None:
    f = tmp_path / "settings.json"
    f.write_text(json.dumps({"dns": False, "listPrefix": "file-", "aws.nacls": True}))
    s = load_settings(str(f), ["listPrefix=cli-"])
    assert s.for_provider("fakecloud") == {"dns": False, "listPrefix": "cli-"}
    assert s.for_provider("aws") == {"dns": False, "listPrefix": "cli-", "nacls": True}


def test_settings_file_must_be_a_mapping(tmp_path: Path) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text("- dns\n")
    with pytest.raises(CloudfenceError) as exc:
        load_settings(str(f), [])
    assert str(exc.value.problems[0]) == f"{f}: settings file must be a mapping of setting names to values"


def test_stack_file_drives_plan(tmp_path: Path, fakes: dict) -> None:
    stack = tmp_path / "Pulumi.fake.yaml"
    stack.write_text("config:\n  cloudfence:providers:\n    fakecloud:\n      dns: false\n")
    result = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--stack", str(stack), "--format", "json"])
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in json.loads(result.stdout)["resources"]]
    assert not [n for n in names if "fake-dns" in n]


def test_unscoped_setting_unknown_to_another_target(fakes: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # With --provider all, a setting meant for one target must be scoped (fakecloud.x=...)
    # or the others reject it: a typo never passes silently.
    from cloudfence.provider import BaseProvider, Capabilities

    class Other(BaseProvider):
        name = "other"
        capabilities = Capabilities()

        def compile(self, intent, settings):  # never reached: the settings are refused first
            raise AssertionError

        def evaluate(self, plan, intent):
            raise AssertionError

        def sdk_class(self, type_token):
            raise AssertionError

    found = {**fakes, "other": Other()}
    monkeypatch.setattr(cloudfence.plugins, "providers", lambda: found)
    result = CliRunner().invoke(main, ["verify", str(EXAMPLE), "-p", "other", "--set", "listPrefix=x-"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: settings.listPrefix: unknown other setting")
