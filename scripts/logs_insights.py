"""A small checker for the CloudWatch Logs Insights queries shipped in docs/queries/.

CloudWatch itself has no offline stand-in, so the queries are checked for what can go wrong without
it: commands separated by `|`, each a known command, balanced quotes, regexes and parentheses, and
the fields each one reads (what the tests compare with the fields the code logs).

    python -m scripts.logs_insights docs/queries/*.logsinsights
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

COMMANDS = frozenset({"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup"})
# Words of the language itself (operators, sort order, the `as` and `by` of stats), never fields.
KEYWORDS = frozenset({"and", "or", "not", "like", "in", "as", "by", "asc", "desc", "true", "false"})
_QUOTES = "\"'`"
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\\n]|\\.)*`')
_REGEX = re.compile(r"(like|=~)\s*/(?:[^/\\\n]|\\.)+/")
_IDENTIFIER = re.compile(r"@?[A-Za-z_][\w.]*")
_AS_ALIAS = re.compile(r"\bas\s+([A-Za-z_]\w*)")


class QueryError(ValueError):
    """The query does not parse; the message says where."""


@dataclass
class Query:
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, its arguments)
    fields: set[str] = field(default_factory=set)  # fields read (aliases it defines left out)


def _without_literals(text: str) -> str:
    """`text` with strings and regexes blanked (their content is no field and no `|`); QueryError
    when a quote or a regex is left open."""
    text = _REGEX.sub(r"\1 //", _LITERAL.sub('""', text))
    for mark in _QUOTES:
        if text.replace(mark * 2, "").count(mark):
            raise QueryError(f"unclosed {mark}")
    if re.search(r"(like|=~)\s*/(?!/)", text):
        raise QueryError("unclosed regex")
    return text


def _split(text: str) -> list[str]:
    """Split on `|` outside parentheses (literals already blanked); QueryError when unbalanced."""
    parts, start, depth = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise QueryError("a ')' closes no '('")
        if char == "|" and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        raise QueryError("unclosed '('")
    return [*parts, text[start:]]


def _fields(arguments: str, aliases: set[str]) -> set[str]:
    """The field names an argument list reads: identifiers that are no keyword, function, alias or
    unit (the `m` of `5m`)."""
    found: set[str] = set()
    for match in _IDENTIFIER.finditer(arguments):
        name, start, end = match.group(), match.start(), match.end()
        if name.lower() in KEYWORDS or name in aliases or re.match(r"\s*\(", arguments[end:]):
            continue
        if start and arguments[start - 1].isdigit():
            continue
        found.add(name)
    return found


def parse(text: str) -> Query:
    """The commands of a query (comment lines start with `#`) and the fields it reads."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    query = Query()
    aliases: set[str] = set()
    for part in _split(_without_literals(body)):
        command, _, arguments = part.strip().partition(" ")
        if not command:
            raise QueryError("an empty command (two '|' in a row, or one at an end)")
        if command not in COMMANDS:
            raise QueryError(f"unknown command {command!r}")
        if command == "limit" and not arguments.strip().isdigit():
            raise QueryError("limit takes a number")
        query.commands.append((command, arguments.strip()))
        query.fields |= _fields(arguments, aliases)
        aliases.update(_AS_ALIAS.findall(arguments))
        query.fields -= aliases
    return query


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])]
    status = 0
    for path in paths:
        try:
            query = parse(path.read_text())
        except QueryError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: {len(query.commands)} commands; fields: {', '.join(sorted(query.fields))}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
