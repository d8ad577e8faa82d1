"""Hypothesis strategies shared by the fuzzers: JSON values, hostile strings, event mutations."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from tests.support.pii_watch import PII_VALUES

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(PII_VALUES),
    st.sampled_from(["", " ", "\x00", "null", "[]", "{}", "../../etc", "%00", "' OR '1'='1", '"; sub = "*']),
    # Huge values, past Cognito's 2048-character cap, in ASCII and in multi-byte unicode.
    st.integers(2049, 60_000).map(lambda n: "x" * n),
    st.integers(1, 20_000).map(lambda n: "é😀\u202e" * n),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside nested dicts and lists."""
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths_of(value, (*prefix, key)))
    return found


# Subs are logged by design (they are not PII): a fuzzed sub is anything but a PII value.
not_pii = json_values.filter(lambda value: value not in PII_VALUES)


@st.composite
def mutated(draw: Any, base: dict[str, Any], max_mutations: int = 4) -> dict[str, Any]:
    """`base` with a few keys deleted, retyped or added anywhere in its tree."""
    event = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = paths_of(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(not_pii if path[-1] == "sub" else json_values)
        elif isinstance(parent, dict):
            parent[draw(hostile_text)] = draw(json_values)
    return event
