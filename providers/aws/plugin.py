"""Registers the AWS provider through the `cloudfence.providers` entry point."""

from core.hookspecs import hookimpl
from providers.aws.provider import AwsProvider


@hookimpl
def register_providers(register):
    register(AwsProvider())
