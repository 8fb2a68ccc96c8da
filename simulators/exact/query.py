"""OData query options and the JSON envelopes Exact Online answers with.

Lists come as `{"d": {"results": [...], "__next": "<absolute URL>"}}` in pages of 60; `__next`
keeps the original query and adds `$skiptoken=guid'<last key>'`. Every entity carries
`__metadata {uri, type}` with absolute URIs, and a child collection that was not `$expand`ed is
`{"__deferred": {"uri": ...}}`, a URI that itself answers a list. Query option names are
case-sensitive and unknown `$` options are refused, as in WCF Data Services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

from starlette.datastructures import URL

from simulators.exact.errors import ApiError, text_error
from simulators.exact.odata import Filter, FilterError, parse_filter
from simulators.exact.payload import qualified
from simulators.exact.schema import LINE_SETS, EntitySet
from simulators.exact.values import guid

KNOWN_OPTIONS = (
    "$filter",
    "$select",
    "$expand",
    "$top",
    "$skip",
    "$skiptoken",
    "$orderby",
    "$inlinecount",
    "$format",
)
Row = dict[str, Any]


@dataclass
class ListQuery:
    filter: Filter | None = None
    select: list[str] | None = None  # None: every property
    expand: set[str] = field(default_factory=set)
    top: int | None = None
    skip: int = 0
    skiptoken: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    inlinecount: bool = False


def parse_query(
    items: list[tuple[str, str]], entity_set: EntitySet, ignore_case: bool
) -> ListQuery:
    options: dict[str, str] = {}
    for name, value in items:
        if not name.startswith("$"):
            continue
        if name not in KNOWN_OPTIONS:
            raise text_error(
                400,
                f"The query parameter '{name}' begins with a system-reserved "
                f"'$' character but is not recognized.",
            )
        if name in options:
            raise text_error(
                400,
                f"Query option '{name}' was specified more than once, but it "
                f"must be specified at most once.",
            )
        options[name] = value
    query = ListQuery(
        top=_count(options, "$top"),
        skip=_count(options, "$skip") or 0,
        skiptoken=options.get("$skiptoken"),
    )
    if options.get("$filter", "").strip():
        try:
            query.filter = parse_filter(
                options["$filter"], entity_set.kinds(), qualified(entity_set), ignore_case
            )
        except FilterError as exc:
            raise text_error(400, str(exc)) from None
    if "$select" in options:
        query.select = _names(options["$select"], entity_set, allow_star=True)
    if "$expand" in options:
        query.expand = set(_names(options["$expand"], entity_set, navigation_only=True))
    if "$orderby" in options:
        query.orderby = _orderby(options["$orderby"], entity_set)
    count = options.get("$inlinecount", "none")
    if count not in ("allpages", "none"):
        raise text_error(
            400,
            f"Invalid value '{count}' for $inlinecount query option found. "
            f"Valid values are 'allpages' and 'none'.",
        )
    query.inlinecount = count == "allpages"
    return query


def _count(options: dict[str, str], name: str) -> int | None:
    raw = options.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise text_error(
            400,
            f"Invalid value '{raw}' for {name} query option found. The {name} "
            f"query option requires a non-negative integer value.",
        )
    return int(raw)


def _names(
    raw: str, entity_set: EntitySet, allow_star: bool = False, navigation_only: bool = False
) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        known = name == entity_set.lines or (
            not navigation_only and (name in entity_set.props or (allow_star and name == "*"))
        )
        if not known:
            raise text_error(400, f"No property '{name}' exists in type '{qualified(entity_set)}'.")
    return names


def _orderby(raw: str, entity_set: EntitySet) -> list[tuple[str, bool]]:
    result = []
    for clause in (c.strip() for c in raw.split(",") if c.strip()):
        name, _, direction = clause.partition(" ")
        if name not in entity_set.props or direction.strip() not in ("", "asc", "desc"):
            raise text_error(400, f"No property '{name}' exists in type '{qualified(entity_set)}'.")
        result.append((name, direction.strip() == "desc"))
    return result


def select_page(
    rows: list[Row], query: ListQuery, entity_set: EntitySet, page_size: int
) -> tuple[list[Row], int, str | None, int | None]:
    """(page, total matching, next skiptoken or None, $top left for the next page)."""
    key = entity_set.key
    rows = [row for row in rows if query.filter is None or query.filter.matches(row)]
    total = len(rows)
    rows.sort(key=lambda row: _sort_key(row.get(key)))
    for name, descending in reversed(query.orderby):
        rows.sort(key=lambda row: _sort_key(row.get(name)), reverse=descending)
    start = 0
    if query.skiptoken is not None:
        after = _skiptoken(query.skiptoken, entity_set, by_offset=bool(query.orderby))
        if query.orderby:
            start = after
        else:
            rows = [row for row in rows if _sort_key(row.get(key)) > _sort_key(after)]
    window = rows[start + query.skip :]
    if query.top is not None:
        window = window[: query.top]
    page = window[:page_size]
    if len(window) <= page_size:
        return page, total, None, None
    token = f"{start + query.skip + len(page)}L" if query.orderby else _key_literal(page[-1][key])
    return page, total, token, None if query.top is None else query.top - len(page)


def _skiptoken(raw: str, entity_set: EntitySet, by_offset: bool) -> Any:
    """The key to resume after, or with `$orderby` the offset to resume at."""
    text = raw.strip()
    digits = text.rstrip("lL")
    int_key = entity_set.props[entity_set.key].kind == "int"
    if digits.isdigit() and (by_offset or int_key):
        return int(digits)
    if (
        not by_offset
        and not int_key
        and text.startswith("guid'")
        and text.endswith("'")
        and guid(text[5:-1])
    ):
        return guid(text[5:-1])
    raise text_error(400, f"Skip token '{raw}' is not valid.")


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


def _key_literal(key: Any) -> str:
    return f"{key}L" if isinstance(key, int) else f"guid'{key}'"


def next_link(url: URL, token: str, top: int | None) -> str:
    """The request's absolute URL with `$skiptoken` (and what is left of `$top`) replaced."""
    dropped = ("$skiptoken", "$top", "$skip")
    parts = [
        part
        for part in url.query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in dropped
    ]
    if top is not None:
        parts.append(f"$top={top}")
    parts.append("$skiptoken=" + quote(token, safe="'"))
    return str(url.replace(query="&".join(parts)))


def entity_uri(api_root: str, entity_set: EntitySet, key: Any) -> str:
    literal = str(key) if isinstance(key, int) else f"guid'{key}'"
    return f"{api_root}/{entity_set.path}({literal})"


def render(
    row: Row,
    entity_set: EntitySet,
    api_root: str,
    select: list[str] | None = None,
    expand: set[str] | frozenset[str] = frozenset(),
    inline_lines: bool = False,
) -> Row:
    """A row as Exact shows it: `__metadata` first, then the selected properties."""
    uri = entity_uri(api_root, entity_set, row[entity_set.key])
    everything = select is None or "*" in select
    out: Row = {"__metadata": {"uri": uri, "type": qualified(entity_set)}}
    for name in entity_set.props:
        if everything or name in (select or ()):
            out[name] = row.get(name)
    lines = entity_set.lines
    if lines is not None and (everything or lines in (select or ()) or lines in expand):
        if inline_lines or lines in expand:
            line_set = LINE_SETS[entity_set.path]
            out[lines] = {"results": [render(line, line_set, api_root) for line in row[lines]]}
        else:
            out[lines] = {"__deferred": {"uri": f"{uri}/{lines}"}}
    return out


def page_body(
    page: list[Row],
    entity_set: EntitySet,
    api_root: str,
    query: ListQuery,
    total: int,
    next_url: str | None,
) -> dict[str, Any]:
    results = [render(row, entity_set, api_root, query.select, query.expand) for row in page]
    body: dict[str, Any] = {"results": results}
    if query.inlinecount:
        body["__count"] = str(total)
    if next_url is not None:
        body["__next"] = next_url
    return {"d": body}


def unknown_key(entity_set: EntitySet) -> ApiError:
    return text_error(404, f"Resource not found for the segment '{entity_set.name}'.")
