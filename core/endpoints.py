"""What a configured Redis or broker URL names, parsed once so that every client agrees on it.

The store, and a Redis broker, is either one server (`redis://`, `rediss://`, `unix://`) or a
Sentinel group written as Celery writes it, `sentinel://h1:26379;sentinel://h2:26379/0`: the
database at the end, the Redis servers' password (not the Sentinels') in the userinfo as kombu
reads it, the master's name a setting of its own. The broker may also be RabbitMQ (`amqp://`),
handed to Celery as it is. Parsing opens no connection and reads no environment; `core.settings`
turns its `ValueError`s into `ConfigError`s naming the setting. Passwords never reach a `repr`,
and `redacted()` is the one way a URL is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

SERVER_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "sentinel"
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
SENTINEL_PORT = 26379


class MissingMasterName(ValueError):
    """A Sentinel group was named without the name its Sentinels know the master by."""


@dataclass(frozen=True)
class RedisEndpoint:
    """A Redis server, or a Sentinel group and its master's name, with what it takes to log in.

    `db` is the Sentinel group's database; a server URL carries its own."""

    url: str = field(repr=False)  # as configured: it may carry a password
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def is_sentinel(self) -> bool:
        return bool(self.sentinels)

    def __str__(self) -> str:
        shown = redacted(self.url)
        return f"{shown} (master {self.master_name})" if self.is_sentinel else shown


@dataclass(frozen=True)
class AmqpEndpoint:
    """A RabbitMQ broker: Celery (kombu) reads the URL itself."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return redacted(self.url)


BrokerEndpoint = RedisEndpoint | AmqpEndpoint


def scheme_of(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def parse_redis_url(
    url: str,
    *,
    master_name: str | None = None,
    password: str | None = None,
    sentinel_password: str | None = None,
) -> RedisEndpoint:
    """A store or Redis broker URL; `password` is the servers' password given apart from it."""
    scheme = scheme_of(url)
    if scheme == SENTINEL_SCHEME:
        return _sentinel_group(url, master_name, password, sentinel_password)
    if scheme not in SERVER_SCHEMES:
        raise ValueError(
            f"{redacted(url)!r} is not a Redis URL "
            f"(redis://, rediss://, unix:// or sentinel://host:port;sentinel://host:port/db)"
        )
    parts = urlsplit(url)
    if parts.password and password:
        raise ValueError("a password in the URL and one given apart: give it once")
    return RedisEndpoint(url=url, password=password)


def parse_broker_url(
    url: str,
    *,
    master_name: str | None = None,
    password: str | None = None,
    sentinel_password: str | None = None,
) -> BrokerEndpoint:
    """A broker URL: RabbitMQ, or any form `parse_redis_url` takes."""
    scheme = scheme_of(url)
    if scheme not in (*AMQP_SCHEMES, *SERVER_SCHEMES, SENTINEL_SCHEME):
        raise ValueError(
            f"{redacted(url)!r} is not a broker URL (amqp://, redis://, rediss://, unix:// or "
            f"sentinel://host:port;sentinel://host:port/db)"
        )
    if scheme not in AMQP_SCHEMES:
        return parse_redis_url(
            url, master_name=master_name, password=password, sentinel_password=sentinel_password
        )
    if password is None:
        return AmqpEndpoint(url)
    parts = urlsplit(url)
    if parts.password:
        raise ValueError("a password in the URL and one given apart: give it once")
    return AmqpEndpoint(with_password(url, password))


def _sentinel_group(
    url: str, master_name: str | None, password: str | None, sentinel_password: str | None
) -> RedisEndpoint:
    sentinels: list[tuple[str, int]] = []
    databases: set[str] = set()
    logins: set[tuple[str | None, str | None]] = set()
    for member in url.split(";"):
        parts = urlsplit(member.strip())
        if parts.scheme.lower() != SENTINEL_SCHEME or not parts.hostname:
            raise ValueError(
                f"every member of a Sentinel group is sentinel://host:port "
                f"({redacted(member)!r} is not)"
            )
        if parts.query or parts.fragment:
            raise ValueError("a Sentinel URL takes no options (?...)")
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError:
            raise ValueError(f"{redacted(member)!r}: the port is not a number") from None
        sentinels.append((parts.hostname, port))
        if parts.path.strip("/"):
            databases.add(parts.path.strip("/"))
        if parts.username or parts.password:
            logins.add((_unquoted(parts.username), _unquoted(parts.password)))
    if len(databases) > 1 or not all(db.isdigit() for db in databases):
        raise ValueError("the database is one number, at the end: sentinel://h1:26379;.../0")
    if len(logins) > 1:
        raise ValueError("the members of a Sentinel group carry different credentials")
    username, url_password = logins.pop() if logins else (None, None)
    if url_password and password:
        raise ValueError("a password in the URL and one given apart: give it once")
    if not master_name:
        raise MissingMasterName("a Sentinel group needs the name its Sentinels know the master by")
    return RedisEndpoint(
        url=url,
        sentinels=tuple(sentinels),
        master_name=master_name,
        db=int(databases.pop()) if databases else 0,
        username=username,
        password=url_password or password,
        sentinel_password=sentinel_password,
    )


def _unquoted(text: str | None) -> str | None:
    return unquote(text) if text else None


def with_password(url: str, password: str) -> str:
    """One server's URL with `password` in its userinfo (quoted), its user name kept."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(unquote(parts.username or ""), safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def redacted(url: str) -> str:
    """The URL as it may be printed or logged: every password (of every `;` member) is ***."""
    return ";".join(_redacted_member(member) for member in url.split(";"))


def _redacted_member(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "***"  # unparseable: it may hold anything
    if not password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
