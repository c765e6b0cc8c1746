"""Fixtures for sign-in tests: the stand-in OAuth provider server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.oauth_stub import OAuthStub, stub_from_environment


@pytest.fixture(scope="session")
def _oauth_server() -> Iterator[OAuthStub]:
    """One stand-in provider per run: its port was fixed in settings before allauth read the URLs."""
    stub = stub_from_environment()
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def oauth_stub(_oauth_server: OAuthStub) -> Iterator[OAuthStub]:
    """The running stand-in provider, with default identities and no memory of earlier tests."""
    _oauth_server.reset()
    yield _oauth_server
    _oauth_server.reset()
