"""Registers the AWS provider through the `cloudfence.providers` entry point."""

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.aws.provider import AwsProvider


@hookimpl
def register_providers(register):
    register(AwsProvider())
