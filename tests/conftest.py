"""Fixtures shared by the CLI and plugin tests."""

from __future__ import annotations

import pytest

import cloudfence.plugins
from tests.fakeplugin import fake_providers, site_env


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The fakecloud providers in place of the installed ones, in process."""
    found = fake_providers()
    monkeypatch.setattr(cloudfence.plugins, "providers", lambda: found)
    return found


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for `python -m cloudfence.cli` subprocesses with the built-in providers."""
    return site_env(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def fake_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The same, with the fakecloud plugins installed too."""
    return site_env(tmp_path_factory.mktemp("site"), fake=True)
