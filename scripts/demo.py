"""`make demo`: the mirror's main job, end to end, on the local stack, as a readable transcript.

    python -m scripts.demo     # starts the stack, runs steps 1-11, stops it; exit 0 only if all checks pass

Ports come from the same variables as `make dev` (MIRROR_DYNAMODB_PORT, ...), so both cannot run at
once on the defaults; set other ports for one of them. The steps: scripts/demo_mirror_steps.py
(1-7, the mirror's own job), scripts/demo_consumer_steps.py (8-10, what other services get),
scripts/demo_rights_steps.py (11, a right withdrawn before the token expires) and
scripts/demo_freshness.py (12, the freshness of what it did, read from the functions' EMF lines).
"""

from __future__ import annotations

import sys
import time

from scripts.demo_consumer_steps import CONSUMER_STEPS
from scripts.demo_freshness import step_12_freshness
from scripts.demo_mirror_steps import MIRROR_STEPS
from scripts.demo_rights_steps import RIGHTS_STEPS
from scripts.demo_transcript import DemoState, Transcript
from scripts.dynamodb_local import LocalServiceError
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import STATE_DIR

STEPS = (*MIRROR_STEPS, *CONSUMER_STEPS, *RIGHTS_STEPS, step_12_freshness)


def run_steps(scenario: Scenario, transcript: Transcript) -> None:
    state = DemoState()
    for step in STEPS:
        try:
            step(scenario, transcript, state)
        except Exception as exc:  # noqa: BLE001 - deliberate: one failed step must not hide the others
            transcript.check(f"{step.__name__} ran to the end", False, f"{type(exc).__name__}: {exc}"[:300])


def main() -> int:
    began = time.monotonic()
    transcript = Transcript()
    # Its own state folder: a `make dev` on other ports keeps running untouched.
    stack = LocalStack(state_dir=STATE_DIR / "demo", say=lambda line: print(f"    {line}"))
    print("The Cognito attribute mirror, end to end on a local stack (no AWS account)")
    try:
        info = stack.start()
        print(
            f"    stack ready in {stack.ready_seconds:.1f} s (pool {info.user_pool_id}, table {info.table})"
        )
        run_steps(Scenario(info), transcript)
    except LocalServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    finally:
        stack.stop()
    total = transcript.passed + len(transcript.failed)
    print(f"\n{transcript.passed}/{total} checks passed in {time.monotonic() - began:.1f} s (stack stopped)")
    for label in transcript.failed:
        print(f"  failed: {label}")
    return 0 if not transcript.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
