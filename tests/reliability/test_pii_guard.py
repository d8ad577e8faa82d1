"""The session-wide PII guard (tests/support/pii_watch.py) sees every log and fails the run on a leak."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.pii_watch import WATCH, LeakWatch, fixture_values, record_text

ROOT = Path(__file__).resolve().parents[2]


def test_the_watch_list_holds_every_fixture_email_name_and_phone() -> None:
    # Given the JSON event fixtures, When their PII values are collected, Then all are watched
    values = fixture_values()
    assert {"jane.doe@example.com", "Jane", "Doe", "+15555550100"} <= values
    assert values <= WATCH.values


def test_a_powertools_log_carrying_a_value_is_caught() -> None:
    from functions.common.observability import logger

    # Given the guard installed for the session
    seen = WATCH.records_seen
    # When our logger writes an email in an extra field, and a phone number in an exception
    with WATCH.expecting_leak() as leaks:
        logger.info("profile", extra={"sub": "s-1", "email": "jane.doe@example.com"})
        try:
            raise ValueError("bad phone +15555550100")
        except ValueError:
            logger.exception("failed")
    # Then both are reported (and kept out of this run's verdict by `expecting_leak`)
    assert WATCH.records_seen >= seen + 2
    assert {leak.value for leak in leaks} >= {"jane.doe@example.com", "+15555550100"}


def test_subs_and_attribute_names_are_not_leaks() -> None:
    # Given a record like the ones the mirror writes
    record = logging.LogRecord("m", logging.INFO, __file__, 1, "mirror write", (), None)
    record.__dict__.update(
        {"sub": "4a709188-f0b1", "attribute_names": ["email", "given_name", "phone_number"]}
    )
    # When a fresh watch scans it, Then nothing is found
    watch = LeakWatch()
    watch.watch(["jane.doe@example.com", "Jane", "+15555550100"])
    assert watch.scan(record_text(record), "test") == []


def run_guarded(folder: Path, test_source: str, *options: str) -> subprocess.CompletedProcess[str]:
    """pytest on one test file in `folder` with the guard loaded (and `options`), in a child process."""
    (folder / "test_leaky.py").write_text(textwrap.dedent(test_source))
    (folder / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(  # noqa: S603 - our own interpreter on our own file
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.support.pii_watch",
            "-p",
            "no:cacheprovider",
            *options,
            str(folder),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def test_a_leak_fails_the_whole_session(tmp_path: Path) -> None:
    # Given a passing test that logs a fixture email through the standard logging module
    source = """
        import logging

        def test_leaks():
            logging.getLogger("app").warning("user %s", "jane.doe@example.com")
        """
    # When pytest runs it with the guard loaded
    result = run_guarded(tmp_path, source)
    # Then the test passes but the session fails, naming the leak without printing it whole
    assert "1 passed" in result.stdout
    assert result.returncode == 1
    assert "PII found in log output" in result.stdout
    assert "jane.doe@example.com" not in result.stdout.split("PII found in log output", 1)[1]


def test_a_leak_inside_a_parallel_worker_fails_the_whole_session(tmp_path: Path) -> None:
    # Given a passing test whose log record carries a fixture email but reaches no captured output
    source = """
        import logging

        def test_leaks():
            quiet = logging.getLogger("quiet")
            quiet.propagate = False
            quiet.addHandler(logging.NullHandler())
            quiet.warning("user %s", "jane.doe@example.com")
        """
    # When pytest runs it in two xdist workers with the guard loaded
    result = run_guarded(tmp_path, source, "-n", "2")
    # Then the worker's finding fails the controller's session, masked in its summary
    assert "1 passed" in result.stdout
    assert result.returncode == 1
    assert "PII found in log output" in result.stdout
    assert "jane.doe@example.com" not in result.stdout.split("PII found in log output", 1)[1]
