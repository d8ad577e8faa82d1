"""The demo's transcript: numbered steps, narration, ✓/✗ checks that decide the exit code, and the
state the steps hand on (tokens and subs by username)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Transcript:
    """Numbered steps, indented narration, and ✓/✗ checks that decide the exit code."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.passed = 0
        self.failed: list[str] = []

    def step(self, number: int, title: str) -> None:
        self.out(f"\n[{number}] {title}")

    def say(self, text: str) -> None:
        self.out(f"    {text}")

    def show(self, label: str, value: Any) -> None:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
        self.say(f"{label}:")
        for line in text.splitlines():
            self.say(f"  {line}")

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            self.out(f"  ✓ {label}")
        else:
            self.failed.append(label)
            self.out(f"  ✗ {label}" + (f": {detail}" if detail else ""))
        return ok


@dataclass
class DemoState:
    tokens: dict[str, str] = field(default_factory=dict)
    subs: dict[str, str] = field(default_factory=dict)
    # The backfill command's freshness (its JSON summary's `freshness`), shown by the last step.
    backfill_freshness: dict[str, float] = field(default_factory=dict)


def status_line(response: Any) -> str:
    return f"{response.status_code} {response.text.strip()[:120]}"


def json_or_empty(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
