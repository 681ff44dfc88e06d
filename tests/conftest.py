"""Fixtures shared by the CLI and plugin tests, and the hypothesis profiles.

Profiles: `ci` (the default) draws a modest, fixed set of examples (derandomized: a run
never fails on a draw the previous one did not make); `deep`, selected by
CLOUDFENCE_CONFORMANCE_DEEP=1 (the variable that also makes the conformance kit try every
mutant), draws many more with fresh random seeds. Tests that size their own runs scale
with `tests.strategies.examples(n)`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

import cloudfence.plugins
from tests.fakeplugin import fake_providers, site_env
from tests.strategies import DEEP, DEEP_FACTOR

# Random specs are slow to draw and compile, and some properties assume() away the specs
# that lack the shape they mutate: neither is a fault of the code under test.
_QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=20, derandomize=True, database=None, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("deep", max_examples=20 * DEEP_FACTOR, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile("deep" if DEEP else "ci")


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
