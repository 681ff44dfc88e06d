"""Entry point `cloudfence.providers: kubernetes` (pyproject.toml)."""

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.kubernetes.provider import KubernetesProvider


@hookimpl
def register_providers(register):
    register(KubernetesProvider())
