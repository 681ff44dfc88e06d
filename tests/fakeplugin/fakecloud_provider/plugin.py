"""Entry point `fakecloud = fakecloud_provider.plugin` in the group `cloudfence.providers`."""

from cloudfence import hookimpl
from fakecloud_provider.provider import FakeCloudProvider


@hookimpl
def register_providers(register):
    register(FakeCloudProvider())
