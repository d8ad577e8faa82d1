"""serverless-offline's Python runner, as installed by `npm ci` (with patches/ applied).

On a Lambda timeout serverless-offline calls the runner's `cleanup()`. Unpatched, that killed the
`/bin/sh -c` around Python and left Python running as an orphan; the patch starts Python with `exec`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from scripts.stack_info import ROOT

RUNNER = ROOT / "node_modules/serverless-offline/src/lambda/handler-runner/python-runner/PythonRunner.js"


def processes_marked(mark: str, running: str = "") -> list[int]:
    """Live (not zombie) processes whose environment holds `mark` (and whose command line `running`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if mark.encode() not in (entry / "environ").read_bytes():
                continue
            if running.encode() not in (entry / "cmdline").read_bytes():
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def test_a_timed_out_python_handler_is_killed_not_orphaned(tmp_path: Path) -> None:
    # Given serverless-offline's Python runner on a handler still importing (a slow cold start: an idle
    # Python would exit by itself when its stdin closes, a busy one does not)
    mark = f"RUNNER_MARK={uuid.uuid4().hex}"
    (tmp_path / "handler.py").write_text(
        "import time\n\ntime.sleep(60)\n\n\ndef handler(event, context):\n    return {}\n"
    )
    script = tmp_path / "runner.mjs"
    script.write_text(
        textwrap.dedent(
            f"""
            import {{ createInterface }} from "node:readline"
            import PythonRunner from {str(RUNNER.as_uri())!r}
            const [key, value] = {mark!r}.split("=")
            const options = {{ handler: "handler.handler", runtime: "python3.11" }}
            const runner = new PythonRunner(options, {{ [key]: value }})
            const lines = createInterface({{ input: process.stdin }})[Symbol.asyncIterator]()
            console.log("started")
            await lines.next()
            // When serverless-offline cleans it up, as it does on a Lambda timeout
            runner.cleanup()
            console.log("cleaned")
            // (held open until the test has looked: node's exit would close Python's stdin)
            await lines.next()
            process.exit(0)
            """
        )
    )
    node = subprocess.Popen(  # noqa: S603 - node on a script of this test
        ["node", str(script)],  # noqa: S607 - node from PATH, as the local stack runs it
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    try:
        assert node.stdout is not None and node.stdin is not None
        assert node.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 10
        while not (running := processes_marked(mark, "invoke.py")) and time.monotonic() < deadline:
            time.sleep(0.1)
        node.stdin.write("clean up\n")
        node.stdin.flush()
        assert node.stdout.readline().strip() == "cleaned"
        deadline = time.monotonic() + 5
        while (left := processes_marked(mark)) and time.monotonic() < deadline:
            time.sleep(0.1)
        node.stdin.write("exit\n")
        node.stdin.flush()
    finally:
        node.wait(timeout=10)
    # Then Python was running, and nothing of it (or of its shell) is left
    assert running, "the runner never started Python"
    assert left == [], f"left running after cleanup: {left}"
