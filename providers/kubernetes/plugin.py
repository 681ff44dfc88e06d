"""Entry point `cloudfence.providers: kubernetes` (pyproject.toml)."""

from core.hookspecs import hookimpl
from providers.kubernetes.provider import KubernetesProvider


@hookimpl
def register_providers(register):
    register(KubernetesProvider())
