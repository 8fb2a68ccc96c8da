"""`GET /status`: the page a shop manager or operator opens to see whether orders flow.

Per connection: queued, running, done today, dead letters, the oldest unfinished job, the jobs
waiting for their ERP budget with an estimate of when they are through, what is left of the
request budget, and whether the connection is blocked (re-consent); below, the dead
letters with their reason and a Replay button that calls the operator API
(`POST /v1/dead-letters/{id}/replay`). Plain server-rendered HTML, every value escaped; one
small script (`status_page/status.js`) for the button and a live refresh; no external assets.

Behind the operator token. Scripts send it as a bearer header; a browser logs in once with the
form (or opens `/status?token=...`, which is turned into the cookie and dropped from the address)
and then carries an HttpOnly, SameSite=Strict session cookie. The cookie holds an HMAC of the
token, not the token, so it never works as a bearer token and changing the token ends every
session. The page itself only reads. The operator API (Replay) accepts the cookie only
together with the same-origin guard `same_origin_call` in `workers/intake/http.py` (a custom
header, and a matching Origin and Sec-Fetch-Site when the browser sends them), which a
cross-site form or script cannot satisfy. Behind a reverse proxy the `Host` header must reach
the intake unchanged (Origin is compared with it).
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.overview import BudgetLeft, ConnectionFigures, Overview, overview
from schemas.dead_letter import DeadLetter
from schemas.job import Job
from workers.intake.http import (
    OPERATOR_COOKIE,
    bearer,
    operator_token,
    origin_is_ours,
    read_limited,
    runtime_of,
    session_ok,
    session_value,
    token_matches,
)

router = APIRouter()

SESSION_SECONDS = 12 * 3600
PAGE_DIR = Path(__file__).resolve().parent / "status_page"
ASSETS = {"status.js": "text/javascript; charset=utf-8", "status.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make Origin "null"
    "Cache-Control": "no-store",
}


# --- who is asking -------------------------------------------------------------------------------
def page_allowed(request: Request) -> bool:
    """The page (a read) opens with the bearer token or the session cookie."""
    expected = operator_token(request)
    return token_matches(bearer(request), expected) or session_ok(request, expected)


def _with_session(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(
        OPERATOR_COOKIE,
        session_value(token),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# --- routes --------------------------------------------------------------------------------------
@router.get("/status", include_in_schema=False)
async def status_page(request: Request) -> Response:
    expected = operator_token(request)
    query_token = request.query_params.get("token")
    if query_token is not None:
        if expected and token_matches(query_token, expected):  # into the cookie, out of the address
            return _with_session(RedirectResponse("/status", status_code=303), request, expected)
        return _html(login_page("That token is not the operator token."), 401)
    if not page_allowed(request):
        return _html(
            login_page(
                None
                if expected
                else "No operator token is configured (orderbridge.operator_token):"
                " the status page stays closed."
            ),
            401,
        )
    figures = await run_in_threadpool(overview, runtime_of(request))
    return _html(status_html(figures), 200)


@router.post("/status/login", include_in_schema=False)
async def login(request: Request) -> Response:
    if not origin_is_ours(request):
        return _html(login_page("Log in from this page."), 403)
    form = parse_qs((await read_limited(request)).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0].strip()
    expected = operator_token(request)
    if not expected or not token_matches(given, expected):
        return _html(login_page("That token is not the operator token."), 401)
    return _with_session(RedirectResponse("/status", status_code=303), request, expected)


@router.post("/status/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    response = RedirectResponse("/status", status_code=303)
    if origin_is_ours(request):
        response.delete_cookie(OPERATOR_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/status/assets/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        (PAGE_DIR / name).read_bytes(),
        media_type=ASSETS[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _html(body: str, status: int) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


# --- rendering -----------------------------------------------------------------------------------
def _doc(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="/status/assets/status.css">'
        f'<script src="/status/assets/status.js" defer></script></head>'
        f"<body>{body}</body></html>"
    )


def login_page(problem: str | None) -> str:
    note = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    return _doc(
        "orderbridge status: log in",
        (
            '<main class="login"><h1>orderbridge status</h1>'
            "<p>Enter the operator token to see the connections and dead letters.</p>"
            f'{note}<form id="login" method="post" action="/status/login">'
            '<label for="token">Operator token</label> '
            '<input id="token" name="token" type="password" autocomplete="current-password" '
            'required autofocus> <button type="submit">Log in</button></form></main>'
        ),
    )


def status_html(view: Overview) -> str:
    rows = (
        "".join(_connection_row(c, view.now) for c in view.connections)
        or '<tr><td colspan="8">No connections are configured.</td></tr>'
    )
    shown = len(view.dead_letters)
    more = (
        f"<p>Showing the newest {shown} of {view.dead_letters_total}; the operator API "
        f"lists them all (<code>GET /v1/dead-letters</code>).</p>"
        if shown < view.dead_letters_total
        else ""
    )
    letters = "".join(_letter_row(letter) for letter in view.dead_letters)
    letters_table = (
        '<table id="dead-letters"><thead><tr><th>Connection</th><th>Order</th><th>Step</th>'
        "<th>Kind</th><th>Reason</th><th>Message</th><th>ERP status</th><th>Attempts</th>"
        f"<th>Since (UTC)</th><th></th></tr></thead><tbody>{letters}</tbody></table>"
        if letters
        else '<p id="no-dead-letters">No dead letters.</p>'
    )
    return _doc(
        "orderbridge status",
        (
            "<header><h1>orderbridge status</h1>"
            '<form method="post" action="/status/logout"><button type="submit">Log out</button>'
            "</form></header>"
            '<div id="notices" aria-live="polite"></div>'
            f'<div id="live"><p class="as-of">As of {_clock(view.now)} UTC; refreshed every few '
            f"seconds.{_partial(view)}</p>"
            '<section><h2>Connections</h2><table id="connections"><thead><tr>'
            "<th>Connection</th><th>Queued</th><th>Running</th><th>Done today</th>"
            "<th>Dead letters</th><th>Oldest unfinished</th><th>Waiting for budget</th>"
            "<th>Budget left</th><th>Blocked</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></section>"
            f"<section><h2>Dead letters ({view.dead_letters_total})</h2>{more}{letters_table}"
            f"</section>{_previewed_section(view)}</div>"
        ),
    )


def _previewed_section(view: Overview) -> str:
    """Connections in preview mode: what their orders would have sent, nothing sent."""
    if not view.previewed:
        return ""
    rows = "".join(_previewed_row(job) for job in view.previewed)
    return (
        "<section><h2>Previewed (connections in preview mode: nothing was sent)</h2>"
        '<table id="previewed"><thead><tr><th>Connection</th><th>Order</th><th>Verdict</th>'
        f"<th>Would send</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _previewed_row(job: Job) -> str:
    report = job.preview or {}
    refusals = "; ".join(str(r.get("message", "")) for r in report.get("refusals", []))
    verdict = str(report.get("verdict", "?")) + (f": {refusals}" if refusals else "")
    writes = [
        f"{step.get('step')}: {w.get('method')} {w.get('path')}\n"
        + json.dumps(w.get("body"), indent=2, ensure_ascii=False)
        for step in report.get("steps", [])
        for w in step.get("writes", [])
    ]
    bodies = (
        f"<details><summary>{len(writes)} request(s)</summary>"
        f"<pre>{escape(chr(10).join(writes))}</pre></details>"
        if writes
        else "none"
    )
    cells = [escape(job.connection), escape(job.reference), escape(verdict)]
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f'<tr data-previewed="{escape(job.job_id)}">{tds}<td>{bodies}</td></tr>'


def _partial(view: Overview) -> str:
    if view.unfinished_read >= view.unfinished_total:
        return ""
    return (
        f" Queued, running and oldest are counted from {view.unfinished_read:,} of "
        f"{view.unfinished_total:,} unfinished jobs."
    )


def _connection_row(fig: ConnectionFigures, now: datetime) -> str:
    age = fig.oldest_age_seconds(now)
    blocked = (
        f'<td class="blocked">blocked: {escape(fig.blocked)}</td>'
        if fig.blocked
        else '<td class="ok">no</td>'
    )
    cells = [
        f'<th scope="row">{escape(fig.name)} <small>({escape(fig.erp)})</small></th>',
        _num("queued", fig.queued),
        _num("running", fig.running),
        _num("done-today", fig.done_today),
        _num("dead-letters", fig.dead_letters),
        f'<td data-field="oldest">{escape(_age(age)) if age is not None else "none"}</td>',
        f'<td data-field="waiting">{escape(fig.backlog or "none")}</td>',
        f'<td data-field="budget">{escape(_budget(fig.budget))}</td>',
        blocked,
    ]
    return f'<tr data-connection="{escape(fig.name)}">{"".join(cells)}</tr>'


def _num(name: str, value: int) -> str:
    return f'<td data-field="{name}">{value}</td>'


def _letter_row(letter: DeadLetter) -> str:
    step = letter.step.value if letter.step else "delivery"
    cells = [
        letter.connection,
        letter.reference,
        step,
        letter.kind,
        letter.reason,
        letter.message,
        "" if letter.erp_status is None else str(letter.erp_status),
        str(letter.attempts),
        _clock(letter.created_at, with_date=True),
    ]
    tds = "".join(f"<td>{escape(c)}</td>" for c in cells)
    button = (
        f'<button type="button" class="replay" data-id="{escape(letter.id)}" '
        f'data-job="{escape(letter.job_id)}" data-reference="{escape(letter.reference)}">'
        "Replay</button>"
    )
    return f'<tr data-dead-letter="{escape(letter.id)}">{tds}<td>{button}</td></tr>'


def _clock(at: datetime, with_date: bool = False) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _age(seconds: float) -> str:
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 172_800:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86_400} days"


def _budget(budget: BudgetLeft | None) -> str:
    if budget is None:
        return "unknown (not configured)"
    text = f"{budget.left} of {budget.limit} per {budget.window_seconds:g} s"
    if budget.paused_seconds > 0:
        text += f", paused {budget.paused_seconds:.1f} s more"
    if budget.day_limit and budget.day_left is not None:
        text += f"; {budget.day_left:,} of {budget.day_limit:,} today"
    return text
