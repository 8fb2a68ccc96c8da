"""The one token cache behind PowerOffice, Exact, Sapera and Shopify (`connectors.tokens`):
one renewal for many workers, a refused token renewed once, a blocked connection that nobody
retries, grants sealed in Redis, and the grant format Exact stored before it still opens."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import pytest
from cryptography.fernet import Fernet

from connectors.errors import ConnectionBlocked
from connectors.tokens import Grant, ProcessTokens, SharedToken
from core.store import TOKENS, Store
from tests.support.fakes import fake_store


class Issuer:
    """Hands out numbered tokens, slowly, and counts the calls."""

    def __init__(self, lifetime: float = 600) -> None:
        self.lifetime, self.calls, self.previous = lifetime, 0, list[Grant | None]()

    def __call__(self, previous: Grant | None) -> Grant:
        self.calls += 1
        self.previous.append(previous)
        time.sleep(0.05)
        return Grant(f"t{self.calls}", time.time() + self.lifetime, {"refresh": f"r{self.calls}"})


def shared(store: Store, issuer: Issuer, **options: float) -> SharedToken:
    return SharedToken(store, "conn", issuer, seal_with=b"label:secret", **options)


def test_many_workers_starting_at_once_make_one_token_call() -> None:
    store, issuer = fake_store(), Issuer()
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(shared(store, issuer).get())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["t1"] * 8 and issuer.calls == 1


def test_a_refused_token_is_renewed_once_and_the_renewal_sees_the_previous_grant() -> None:
    store, issuer = fake_store(), Issuer()
    first, second = shared(store, issuer), shared(store, issuer)
    assert first.get() == "t1"
    assert first.refresh(stale="t1") == "t2"
    assert second.refresh(stale="t1") == "t2"  # another worker had renewed it meanwhile
    assert issuer.calls == 2
    previous = issuer.previous[-1]
    assert previous is not None and previous.extra == {"refresh": "r1"}


def test_a_grant_is_renewed_before_it_expires_never_in_its_first_half() -> None:
    store = fake_store()
    short = Issuer(lifetime=2)
    token = shared(store, short, margin_seconds=60)
    assert token.get() == "t1" and token.get() == "t1"  # not stale at birth
    assert 0.9 <= store.redis.pttl(TOKENS.key("conn")) / 1000 <= 1.0
    long = Issuer(lifetime=600)
    grant = long(None)
    assert grant.renew_at(60) == pytest.approx(grant.expires_at - 60)


def test_a_blocked_connection_raises_for_everyone_without_asking_again() -> None:
    store, issuer = fake_store(), Issuer()
    token = shared(store, issuer, keep_seconds=100)
    token.get()
    with pytest.raises(ConnectionBlocked, match="consent"):
        token.block("consent withdrawn")
    for caller in (shared(store, issuer), token):
        with pytest.raises(ConnectionBlocked):
            caller.get()
        with pytest.raises(ConnectionBlocked):
            caller.refresh(stale=None)
    assert issuer.calls == 1
    kept = token.load()
    assert kept is not None and kept.extra == {"refresh": "r1"}  # the rest of the grant stays


def test_the_grant_is_sealed_and_another_secret_cannot_open_it() -> None:
    store, issuer = fake_store(), Issuer()
    shared(store, issuer).get()
    raw = str(store.token_get("conn"))
    assert "access_token" not in raw and "refresh" not in raw  # sealed, not JSON
    other = SharedToken(store, "conn", issuer, seal_with=b"label:another")
    assert other.load() is None
    assert other.get() == "t2"  # as good as none: renewed


def test_a_pair_exact_stored_before_the_shared_cache_still_opens() -> None:
    store = fake_store()
    material = b"orderbridge-exact:" + b"client-secret"
    fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))
    old = {"access_token": "a", "refresh_token": "r", "expires_at": time.time() + 500}
    store.token_put(
        "conn", fernet.encrypt(json.dumps(old | {"issued_at": 1.0}).encode()).decode(), 60
    )
    grant = SharedToken(store, "conn", Issuer(), seal_with=material).load()
    assert grant is not None and grant.access_token == "a" and grant.extra == {"refresh_token": "r"}


def test_process_tokens_serve_a_caller_without_redis() -> None:
    issuer = Issuer(lifetime=600)
    token = SharedToken(ProcessTokens(), "conn", issuer, seal_with=b"x", local_seconds=30)
    assert [token.get(), token.get()] == ["t1", "t1"] and issuer.calls == 1
