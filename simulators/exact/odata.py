"""OData v2 `$filter` expressions, parsed and checked the way Exact Online's WCF layer does.

What connectors get wrong here is exactly what a lenient fake would let through: an embedded
quote that is not doubled (`'O'Neil'`), a GUID compared as a plain string, an unpadded account
code, an `or` chain without brackets before an `and`. So the parser is strict: literals are
typed (`'text'`, `guid'…'`, `datetime'…'`, numbers, `true`/`false`, `null`), operands must have
compatible types, unknown properties are refused, and any error is a 400 naming the position.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.exact.schema import CLR_TYPES
from simulators.exact.values import guid, parse_date

Row = dict[str, Any]
Eval = Callable[[Row], Any]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<punct>[(),])
  | (?P<typed>(?:guid|datetime|datetimeoffset)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
)""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_NUMERIC = ("int", "num")
# name -> (argument kinds, result kind, implementation)
_FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    "trim": (("str",), "str", str.strip),
    "tolower": (("str",), "str", str.lower),
    "toupper": (("str",), "str", str.upper),
    "length": (("str",), "int", len),
    "substringof": (("str", "str"), "bool", lambda needle, hay: needle in hay),
    "startswith": (("str", "str"), "bool", str.startswith),
    "endswith": (("str", "str"), "bool", str.endswith),
    "year": (("date",), "int", lambda d: d.year),
    "month": (("date",), "int", lambda d: d.month),
    "day": (("date",), "int", lambda d: d.day),
}


class FilterError(ValueError):
    """The filter can not be parsed or typed; the message is the one the API answers."""


@dataclass(frozen=True)
class Token:
    kind: str  # punct, typed, string, number, name, end
    text: str
    pos: int


@dataclass(frozen=True)
class Filter:
    matches: Callable[[Row], bool]
    fields: frozenset[str]  # the properties the expression uses


def parse_filter(
    text: str, kinds: dict[str, str], type_name: str, ignore_case: bool = True
) -> Filter:
    parser = _Parser(text, kinds, type_name, ignore_case)
    kind, evaluate = parser.expression()
    parser.expect_end()
    if kind != "bool":
        raise FilterError(
            f"Expression of type 'System.Boolean' expected at position 0 in '{text}'."
        )
    return Filter(lambda row: evaluate(row) is True, frozenset(parser.fields))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        found = _TOKEN.match(text, pos)
        if found is None or found.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterError(f"Syntax error at position {start} in '{text}'.")
        tokens.append(Token(found.lastgroup, found[found.lastgroup], found.start(found.lastgroup)))
        pos = found.end()
    return [*tokens, Token("end", "", len(text))]


def _unquote(literal: str) -> str:
    return literal[literal.index("'") + 1 : -1].replace("''", "'")


class _Parser:
    """Recursive descent: or > and > not > comparison > operand. Each node is (kind, evaluator)."""

    def __init__(self, text: str, kinds: dict[str, str], type_name: str, ignore_case: bool) -> None:
        self.text, self.kinds, self.type_name = text, kinds, type_name
        self.ignore_case = ignore_case
        self.tokens = tokenize(text)
        self.index = 0
        self.fields: set[str] = set()

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text in words

    def syntax_error(self, token: Token | None = None) -> FilterError:
        pos = (token or self.peek()).pos
        return FilterError(f"Syntax error at position {pos} in '{self.text}'.")

    def expect(self, text: str) -> None:
        if self.peek().text != text or self.peek().kind != "punct":
            raise self.syntax_error()
        self.take()

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.syntax_error()

    def expression(self) -> tuple[str, Eval]:
        return self._logical("or", self._and)

    def _and(self) -> tuple[str, Eval]:
        return self._logical("and", self._not)

    def _logical(self, word: str, operand: Callable[[], tuple[str, Eval]]) -> tuple[str, Eval]:
        start = self.peek()
        kind, left = operand()
        while self.at_word(word):
            token = self.take()
            right_kind, right = operand()
            self._need_bool(kind, start)
            self._need_bool(right_kind, token)
            left = _both(left, right) if word == "and" else _either(left, right)
            kind = "bool"
        return kind, left

    def _not(self) -> tuple[str, Eval]:
        if not self.at_word("not"):
            return self._comparison()
        token = self.take()
        kind, inner = self._not()
        self._need_bool(kind, token)
        return "bool", lambda row: None if inner(row) is None else not inner(row)

    def _need_bool(self, kind: str, token: Token) -> None:
        if kind not in ("bool", "null"):
            raise FilterError(
                f"Expression of type 'System.Boolean' expected at position "
                f"{token.pos} in '{self.text}'."
            )

    def _comparison(self) -> tuple[str, Eval]:
        left_kind, left = self._operand()
        if not self.at_word(*_COMPARE):
            return left_kind, left
        token = self.take()
        right_kind, right = self._operand()
        if not _compatible(left_kind, right_kind):
            raise FilterError(
                f"Operator '{token.text}' incompatible with operand types "
                f"'{CLR_TYPES.get(left_kind, 'null')}' and '{CLR_TYPES.get(right_kind, 'null')}' "
                f"at position {token.pos}."
            )
        compare, fold = _COMPARE[token.text], self.ignore_case
        return "bool", lambda row: _compare(compare, left(row), right(row), fold)

    def _operand(self) -> tuple[str, Eval]:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            result = self.expression()
            self.expect(")")
            return result
        if token.kind in ("string", "typed", "number"):
            return _literal(token, self.text)
        if token.kind != "name":
            raise self.syntax_error(token)
        if token.text in ("true", "false"):
            value = token.text == "true"
            return "bool", lambda row: value
        if token.text == "null":
            return "null", lambda row: None
        if self.peek().text == "(" and self.peek().kind == "punct":
            return self._call(token)
        return self._property(token)

    def _property(self, token: Token) -> tuple[str, Eval]:
        kind = self.kinds.get(token.text)
        if kind is None:
            raise FilterError(
                f"No property '{token.text}' exists in type "
                f"'{self.type_name}' at position {token.pos}."
            )
        self.fields.add(token.text)
        name = token.text
        return kind, lambda row: _field_value(row.get(name), kind)

    def _call(self, token: Token) -> tuple[str, Eval]:
        if token.text not in _FUNCTIONS:
            raise FilterError(f"Unknown function '{token.text}' at position {token.pos}.")
        wanted, result_kind, implementation = _FUNCTIONS[token.text]
        self.expect("(")
        args = [self.expression()]
        while self.peek().text == "," and self.peek().kind == "punct":
            self.take()
            args.append(self.expression())
        self.expect(")")
        if tuple(kind for kind, _ in args) != wanted:
            raise FilterError(
                f"No applicable function found for '{token.text}' at position "
                f"{token.pos} with the specified arguments."
            )
        evaluators = [evaluate for _, evaluate in args]
        fold = self.ignore_case and result_kind == "bool"  # text predicates, like comparisons

        def call(row: Row) -> Any:
            values = [evaluate(row) for evaluate in evaluators]
            if any(v is None for v in values):
                return None
            return implementation(*(v.casefold() if fold else v for v in values))

        return result_kind, call


def _literal(token: Token, text: str) -> tuple[str, Eval]:
    kind, value = literal_value(token, text)
    return kind, lambda row: value


def literal_value(token: Token, text: str) -> tuple[str, Any]:
    """The kind and Python value of a literal token; FilterError when it is malformed."""
    if token.kind == "string":
        return "str", _unquote(token.text)
    if token.kind == "number":
        digits = token.text.rstrip("mMdDfFlL")
        if token.text[-1] in "lL" or (
            token.text[-1].isdigit() and "." not in digits and "e" not in digits.lower()
        ):
            return "int", int(digits)
        return "num", float(digits)
    prefix, raw = token.text.split("'", 1)[0], _unquote(token.text)
    value: Any = guid(raw) if prefix == "guid" else parse_date(raw)
    if value is None:
        edm = "Edm.Guid" if prefix == "guid" else "Edm.DateTime"
        raise FilterError(
            f"Unrecognized '{edm}' literal '{token.text}' at '{token.pos}' in '{text}'."
        )
    if isinstance(value, datetime):
        return "date", value
    return "guid", value


def _field_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return parse_date(value)
    return value


def _compatible(left: str, right: str) -> bool:
    return left == right or "null" in (left, right) or (left in _NUMERIC and right in _NUMERIC)


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any, fold: bool) -> bool:
    if left is None or right is None:
        if compare is operator.eq:
            return left is None and right is None
        if compare is operator.ne:
            return not (left is None and right is None)
        return False
    if fold and isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()
    return compare(left, right)


def _both(left: Eval, right: Eval) -> Eval:
    return lambda row: left(row) is True and right(row) is True


def _either(left: Eval, right: Eval) -> Eval:
    return lambda row: left(row) is True or right(row) is True
