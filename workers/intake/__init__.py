"""The HTTP intake (FastAPI): `create_app(runtime)` and its routers."""

from __future__ import annotations

from workers.intake.app import create_app

__all__ = ["create_app"]
