"""A small GraphQL reader for the Shopify simulator: enough of the query language for what Admin
API clients send (operations with variables, aliases, arguments, fragments, directives read but
ignored), turned into plain selections the executor walks.

No GraphQL library is a project dependency, and the simulator needs only the executable subset
of the spec (no schema definition language), so this is a hand-written recursive descent.
`GraphQLSyntaxError` carries Shopify's wording for a parse failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(
    r'''
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<block>"""(?:\\"""|[^"]|"(?!""))*""")
  | (?P<string>"(?:\\.|[^"\\\n\r])*")
  | (?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>\.\.\.|[!$&()\:=@\[\]{}|])
''',
    re.VERBOSE,
)


class GraphQLSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class EnumValue:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    selections: list[Selection] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class FragmentSpread:
    name: str


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Selection]


Selection = Field | FragmentSpread | InlineFragment


@dataclass
class Operation:
    kind: str  # query | mutation | subscription
    name: str | None
    defaults: dict[str, Any]
    selections: list[Selection]


@dataclass
class Document:
    operations: list[Operation]
    fragments: dict[str, InlineFragment]


def tokenize(source: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(source):
        found = TOKEN.match(source, position)
        if found is None:
            raise GraphQLSyntaxError(f'Parse error on "{source[position]}" at offset {position}')
        kind = found.lastgroup or ""
        if kind != "skip":
            tokens.append((kind, found.group(), position))
        position = found.end()
    tokens.append(("end", "", len(source)))
    return tokens


class Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.at = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        token_kind, text, _ = self.tokens[self.at]
        return (value is None or text == value) and (kind is None or token_kind == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, text, _ = self.tokens[self.at]
        if not self.peek(value, kind):
            shown = "end of file" if token_kind == "end" else f'"{text}"'
            raise GraphQLSyntaxError(
                f"Parse error on {shown} ({token_kind.upper()}) at offset {self.tokens[self.at][2]}"
            )
        self.at += 1
        return text

    def document(self) -> Document:
        operations, fragments = [], {}
        while not self.peek(kind="end"):
            if self.peek("{"):
                operations.append(Operation("query", None, {}, self.selection_set()))
            elif self.peek("fragment"):
                self.take()
                name = self.take(kind="name")
                self.take("on")
                condition = self.take(kind="name")
                self.directives()
                fragments[name] = InlineFragment(condition, self.selection_set())
            else:
                kind = self.take(kind="name")
                if kind not in ("query", "mutation", "subscription"):
                    raise GraphQLSyntaxError(f'Parse error on "{kind}" (IDENTIFIER)')
                op_name = self.take(kind="name") if self.peek(kind="name") else None
                defaults = self.variable_definitions()
                self.directives()
                operations.append(Operation(kind, op_name, defaults, self.selection_set()))
        if not operations:
            raise GraphQLSyntaxError("Parse error on end of file: no operation given")
        return Document(operations, fragments)

    def variable_definitions(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if not self.peek("("):
            return defaults
        self.take("(")
        while not self.peek(")"):
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            self.type_reference()
            if self.peek("="):
                self.take("=")
                defaults[name] = self.value()
            self.directives()
        self.take(")")
        return defaults

    def type_reference(self) -> None:
        if self.peek("["):
            self.take("[")
            self.type_reference()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")

    def directives(self) -> None:
        while self.peek("@"):
            self.take("@")
            self.take(kind="name")
            self.arguments()

    def selection_set(self) -> list[Selection]:
        self.take("{")
        selections: list[Selection] = []
        while not self.peek("}"):
            selections.append(self.selection())
        self.take("}")
        if not selections:
            raise GraphQLSyntaxError('Parse error on "}" (RCURLY): empty selection')
        return selections

    def selection(self) -> Selection:
        if self.peek("..."):
            self.take("...")
            if self.peek("on"):
                self.take("on")
                condition = self.take(kind="name")
                self.directives()
                return InlineFragment(condition, self.selection_set())
            if self.peek("{") or self.peek("@"):
                self.directives()
                return InlineFragment(None, self.selection_set())
            spread = FragmentSpread(self.take(kind="name"))
            self.directives()
            return spread
        name, alias = self.take(kind="name"), None
        if self.peek(":"):
            self.take(":")
            alias, name = name, self.take(kind="name")
        arguments = self.arguments()
        self.directives()
        selections = self.selection_set() if self.peek("{") else []
        return Field(name, alias, arguments, selections)

    def arguments(self) -> dict[str, Any]:
        if not self.peek("("):
            return {}
        self.take("(")
        return self._pairs(")")

    def _pairs(self, close: str) -> dict[str, Any]:
        """`name: value` pairs up to `close`, taken too (the opening bracket already is)."""
        found: dict[str, Any] = {}
        while not self.peek(close):
            name = self.take(kind="name")
            self.take(":")
            found[name] = self.value()
        self.take(close)
        return found

    def value(self) -> Any:
        kind, text, _ = self.tokens[self.at]
        if text == "$":
            self.take()
            return Variable(self.take(kind="name"))
        if text == "[":
            self.take()
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.take("]")
            return items
        if text == "{":
            self.take()
            return self._pairs("}")
        self.take()
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "string":
            return json.loads(text)
        if kind == "block":
            return text[3:-3].replace('\\"""', '"""')
        if kind == "name":
            literals: dict[str, Any] = {"true": True, "false": False, "null": None}
            return literals[text] if text in literals else EnumValue(text)
        raise GraphQLSyntaxError(f'Parse error on "{text}" ({kind.upper()})')


def parse(source: str) -> Document:
    return Parser(source).document()


def resolve_value(value: Any, variables: dict[str, Any]) -> Any:
    """An argument with its variables filled in; enum values become their names."""
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, list):
        return [resolve_value(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: resolve_value(item, variables) for key, item in value.items()}
    return value
