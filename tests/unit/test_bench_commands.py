"""The local-stack benchmark commands' command lines: one bounded count each, exit codes 0, 1 and 2.

`run` is replaced, so no stack starts: what is checked is what reaches it and what the command says.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from bench import stats
from bench.stats import Report
from scripts.dynamodb_local import LocalServiceError


class Command(NamedTuple):
    name: str
    option: str
    default: int
    most: int
    help_text: str


COMMANDS = [
    Command("bench.events_lag", "--writes", 50, 1000, "measured writes (1-1000)"),
    Command("bench.freshness", "--users", 20, 500, "users per path (1-500)"),
    Command("bench.revocation", "--removals", 50, 1000, "measured removals (1-1000)"),
]
EACH_COMMAND = pytest.mark.parametrize("command", COMMANDS, ids=[command.name for command in COMMANDS])


def _command(
    monkeypatch: pytest.MonkeyPatch, name: str, outcome: Any
) -> tuple[ModuleType, list[tuple[Any, ...]]]:
    """The command module with a `run` that records its arguments and returns or raises `outcome`."""
    module = importlib.import_module(name)
    calls: list[tuple[Any, ...]] = []

    def run(*args: Any) -> Report:
        calls.append(args)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, Report)
        return outcome

    monkeypatch.setattr(module, "run", run)
    return module, calls


@EACH_COMMAND
def test_a_count_out_of_bounds_exits_2_with_one_line_and_runs_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: Command
) -> None:
    # Given a command whose run would record its call
    module, calls = _command(monkeypatch, command.name, Report("unused"))
    for value in (0, command.most + 1):
        # When it is given a count outside 1..most
        code = module.main([command.option, str(value)])
        # Then it exits 2 with one line naming the bounds, and nothing ran
        assert code == 2
        assert capsys.readouterr().err == f"error: {command.option} must be 1-{command.most}\n"
    assert calls == []


@EACH_COMMAND
def test_the_default_count_reaches_run_and_a_local_service_error_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: Command
) -> None:
    # Given a command whose local stack fails
    module, calls = _command(monkeypatch, command.name, LocalServiceError("the stack did not start"))
    # When it runs without options
    code = module.main([])
    # Then run got the default count, and the command exits 1 with the error's one line
    assert calls[0][0] == command.default
    assert code == 1
    assert capsys.readouterr().err == "error: the stack did not start\n"


@EACH_COMMAND
def test_a_made_report_is_written_shown_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, command: Command
) -> None:
    # Given a command whose run makes a report, and a results folder of the test's own
    monkeypatch.setattr(stats, "RESULTS", tmp_path)
    monkeypatch.setattr(stats, "machine", lambda: {"cpu": "test"})  # platform asks `uname`: a process
    report = Report("command-test", lines=["a line of arithmetic"])
    module, calls = _command(monkeypatch, command.name, report)
    # When it runs with the highest count it takes
    code = module.main([command.option, str(command.most)])
    # Then run got that count, the report is written and shown, and the command exits 0
    assert calls[0][0] == command.most
    assert code == 0
    out = capsys.readouterr().out
    assert "a line of arithmetic" in out
    assert f"results: {tmp_path / 'command-test.json'}" in out
    assert (tmp_path / "command-test.json").is_file()


@EACH_COMMAND
def test_help_names_the_count_its_bounds_and_the_command(
    capsys: pytest.CaptureFixture[str], command: Command
) -> None:
    # Given a command
    module = importlib.import_module(command.name)
    # When asked for its help
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    # Then it exits 0 and shows its first docstring line and the count's help
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{command.option} {command.option.lstrip('-').upper()} {command.help_text}" in out
    assert " ".join(module.__doc__.splitlines()[0].split()) in out


def test_revocation_passes_its_delivery_and_refuses_an_unknown_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the revocation command whose local stack fails
    module, calls = _command(monkeypatch, "bench.revocation", LocalServiceError("down"))
    # When it runs with a delivery, then with one it does not know
    code = module.main(["--removals", "3", "--delivery", "row"])
    with pytest.raises(SystemExit) as exit_:
        module.main(["--delivery", "mail"])
    # Then the count and the delivery reach run, the default delivery is sync, and the unknown one exits 2
    assert (calls, code) == ([(3, "row")], 1)
    assert exit_.value.code == 2
    assert "invalid choice: 'mail'" in capsys.readouterr().err
    module.main([])
    assert calls[-1] == (50, "sync")
