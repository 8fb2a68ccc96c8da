"""Sapera's login as the workers share it: cached, refreshed once, blocked on a refused login
until the password changes. Against a tiny fake login endpoint (httpx MockTransport) and
fakeredis."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from connectors.errors import ConnectionBlocked
from connectors.sapera.auth import SaperaLogin
from connectors.sapera.settings import SaperaSettings
from core.store import Store
from tests.support.fakes import fake_store


class FakeLogin:
    """Answers Login and loginWithRefreshToken like Sapera (in its envelope)."""

    def __init__(self, result_code: int = 1) -> None:
        self.result_code = result_code
        self.calls: list[str] = []
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path.rsplit("/", 1)[-1])
        self.issued += 1
        value: dict[str, Any] = {"resultCode": self.result_code}
        if self.result_code == 1:
            value.update(
                token=f"access-{self.issued}",
                tokenId=str(self.issued),
                expiresIn=3600,
                refreshTokenInfo={
                    "token": f"refresh-{self.issued}",
                    "tokenId": str(self.issued),
                    "expiresIn": 86400,
                },
            )
        return httpx.Response(
            200,
            json={
                "modelType": "Response<LoginResult>",
                "errorOrValue": {"value": value, "error": None},
            },
        )


def login(fake: FakeLogin, store: Store, password: str = "secret") -> SaperaLogin:
    settings = SaperaSettings(
        base_url="http://sapera.test", tenant="demo", user="u", password=password
    )
    return SaperaLogin(settings, httpx.Client(transport=httpx.MockTransport(fake)), store)


@pytest.fixture
def store() -> Store:
    return fake_store()


def test_one_login_shared_then_one_refresh_for_a_stale_token(store: Store) -> None:
    fake = FakeLogin()
    first, second = login(fake, store), login(fake, store)  # two workers
    token = first.get()
    assert second.get() == token and fake.calls == ["Login"]
    fresh = first.refresh(stale=token)
    assert second.refresh(stale=token) == fresh  # the second worker re-reads, no new call
    assert fake.calls == ["Login", "loginWithRefreshToken"]


def test_a_refused_login_blocks_until_the_password_changes(store: Store) -> None:
    fake = FakeLogin(result_code=2)
    with pytest.raises(ConnectionBlocked, match="invalid credentials"):
        login(fake, store).get()
    with pytest.raises(ConnectionBlocked):
        login(fake, store).get()
    assert fake.calls == ["Login"]  # blocked: the same password is not tried again
    fake.result_code = 1
    assert login(fake, store, password="new-secret").get().startswith("access-")
    assert fake.calls == ["Login", "Login"]


def test_tokens_in_redis_are_encrypted(store: Store) -> None:
    login(FakeLogin(), store).get()
    keys = list(store.redis.scan_iter("ob:token:*"))
    assert len(keys) == 1
    stored = json.dumps([store.redis.get(k) for k in keys])
    assert "access-1" not in stored and "refresh-1" not in stored
