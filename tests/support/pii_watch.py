"""Session-wide PII guard (a pytest plugin loaded from tests/conftest.py).

Every log record of the whole run (any logger: ours, Powertools, botocore, pynamodb) and every
test's captured stdout/stderr is scanned for the fixtures' emails, names and phone numbers. Any hit
fails the session (exit status 1) and is listed in the terminal summary. Logs may carry subs and
attribute NAMES, never attribute values.

Watched values: every email/name/phone attribute found in tests/events/*.json, plus whatever tests
register with `watch(...)` (and the `PII_VALUES` pool the fuzzers draw from).

Under pytest-xdist each worker scans its own tests and hands its findings to the controller at the
end (`workeroutput`), which fails the session and prints the summary for all of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[1] / "events"
PII_ATTRIBUTES = frozenset(
    {
        "email",
        "cognito:email_alias",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "phone_number",
    }
)
# Extra values the reliability tests put into events and the mirror (kept distinctive on purpose).
PII_VALUES = (
    "jane.doe@example.com",
    "victim.v@example.org",
    "attacker.a@example.net",
    "Zoë Ünïcødé",
    "Worthington-Smythe",
    "+15555550100",
    "+447700900123",
)
_MIN_LEN = 3  # shorter values would match by accident
# Attributes every LogRecord has; the rest are the `extra=` fields a formatter would print.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def fixture_values(events_dir: Path = EVENTS) -> set[str]:
    """The PII attribute values of every JSON event fixture (dict or Name/Value list shapes)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            # Cognito's {"Name", "Value"} pairs, and CloudTrail's {"name", "value"} ones: there
            # "name" holds an attribute's name, not a person's.
            name, value = node.get("Name", node.get("name")), node.get("Value", node.get("value"))
            pair = name is not None and ("Value" in node or "value" in node)
            if pair and name in PII_ATTRIBUTES and isinstance(value, str):
                found.add(value)
            for key, item in node.items():
                if not pair and key in PII_ATTRIBUTES and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(events_dir.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    # CloudTrail redacts values ("HIDDEN_FOR_SECURITY_REASONS"): placeholders, not personal data.
    return {value for value in found if not value.startswith("HIDDEN_")}


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could print from `record`: message, extras, exception."""
    parts = [str(record.msg)]
    with contextlib.suppress(Exception):
        parts.append(record.getMessage())
    parts.extend(f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STANDARD)
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


@dataclass
class Leak:
    where: str
    source: str
    value: str

    def masked(self) -> str:
        return f"{self.value[:2]}…({len(self.value)} chars)"


@dataclass
class LeakWatch:
    values: set[str] = field(default_factory=set)
    leaks: list[Leak] = field(default_factory=list)
    records_seen: int = 0
    texts_seen: int = 0
    current: str = "<session>"
    # Tests that leak on purpose (the guard's own tests): their captured output is not scanned.
    exempt: set[str] = field(default_factory=set)
    # False on an xdist controller: its workers scan their tests' output (and know their `watch`es).
    scans_output: bool = True

    def watch(self, values: Iterable[str]) -> None:
        self.values.update(v for v in values if isinstance(v, str) and len(v) >= _MIN_LEN)

    def scan(self, text: str, source: str) -> list[Leak]:
        found = [Leak(self.current, source, value) for value in self.values if value in text]
        self.leaks.extend(found)
        return found

    def scan_record(self, record: logging.LogRecord) -> None:
        self.records_seen += 1
        self.scan(record_text(record), f"log record from {record.name!r} ({record.levelname})")

    def scan_output(self, nodeid: str, title: str, text: str) -> None:
        if nodeid in self.exempt or not self.scans_output:
            return
        self.texts_seen += 1
        self.scan(text, f"{title} of {nodeid}")

    def findings(self) -> dict[str, Any]:
        """What a worker hands its controller (plain data: it crosses a process boundary)."""
        return {
            "leaks": [[leak.where, leak.source, leak.value] for leak in self.leaks],
            "records_seen": self.records_seen,
            "texts_seen": self.texts_seen,
            "values": sorted(self.values),
        }

    def merge(self, findings: dict[str, Any]) -> None:
        """Add a worker's `findings()` to this (the controller's) watch."""
        self.leaks.extend(Leak(*leak) for leak in findings["leaks"])
        self.records_seen += findings["records_seen"]
        self.texts_seen += findings["texts_seen"]
        self.values.update(findings["values"])

    @contextlib.contextmanager
    def expecting_leak(self) -> Iterator[list[Leak]]:
        """For the guard's own tests: leaks found inside are returned, not counted against the run.

        The test's captured stdout/stderr/log then holds the same values: it is not scanned.
        """
        self.exempt.add(self.current)
        before = len(self.leaks)
        caught: list[Leak] = []
        try:
            yield caught
        finally:
            caught.extend(self.leaks[before:])
            del self.leaks[before:]


WATCH = LeakWatch()
WATCH.watch(fixture_values())
WATCH.watch(PII_VALUES)


def watch(*values: str) -> None:
    """Register more values a test puts into users or events."""
    WATCH.watch(values)


_original_call_handlers = logging.Logger.callHandlers


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    WATCH.scan_record(record)
    _original_call_handlers(self, record)


def pytest_configure(config: pytest.Config) -> None:
    logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    WATCH.current = item.nodeid
    try:
        return (yield)
    finally:
        WATCH.current = "<session>"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for title, content in report.sections:
        WATCH.scan_output(report.nodeid, title, content)


def pytest_sessionstart(session: pytest.Session) -> None:
    WATCH.scans_output = not session.config.pluginmanager.hasplugin("dsession")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """An xdist worker finished: take over what it found."""
    findings = getattr(node, "workeroutput", {}).get("pii_watch")
    if findings is not None:
        WATCH.merge(findings)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["pii_watch"] = WATCH.findings()
    if WATCH.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tr = terminalreporter
    if WATCH.leaks:
        tr.section("PII found in log output", sep="!", red=True, bold=True)
        for leak in WATCH.leaks[:50]:
            tr.write_line(f"{leak.where}: {leak.source}: {leak.masked()}")
        tr.write_line(f"{len(WATCH.leaks)} leak(s): the session fails")
    else:
        tr.write_line(
            f"PII guard: {WATCH.records_seen} log records and {WATCH.texts_seen} captured outputs "
            f"scanned for {len(WATCH.values)} fixture values: none found"
        )
