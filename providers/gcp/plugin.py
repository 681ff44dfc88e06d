"""Registers the GCP provider through the `cloudfence.providers` entry point."""

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.gcp.provider import GcpProvider


@hookimpl
def register_providers(register):
    register(GcpProvider())
