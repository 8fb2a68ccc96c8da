"""structlog set up once per process: JSON lines in production, readable lines in a terminal.

Log lines carry ids (connection, order reference, job id, step, attempt), never personal data
or secrets; a last processor scrubs any key that looks like a credential, in case one slips in.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET = re.compile(r"(token|secret|password|authorization|client_key|api_key)", re.I)
_configured = False


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and _SECRET.search(key):
            event[key] = "[redacted]"
    return event


def configure(fmt: str = "auto", level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    # httpx logs every URL at INFO; query strings can carry customer keys (emails).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper()) if isinstance(level, str) else level
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
