"""Step 11 of `make demo`: a right withdrawn before the token expires. An admin reads another user,
is removed from the admin group in Cognito, the removal reaches the sync in CloudTrail's shape, and
the same, still valid token is refused: the API's rule is the token's group AND the mirrored row's."""

from __future__ import annotations

import json
import time

from scripts.demo_transcript import DemoState, Transcript, status_line
from scripts.scenario import Scenario, token_claims
from scripts.user_pool import ADMIN_GROUP

# Bound on the wait for the first 403 (the removal is delivered synchronously: normally the first try).
REVOCATION_TIMEOUT_S = 10.0
REVOCATION_POLL_S = 0.05


def seconds_to_refusal(s: Scenario, path: str, token: str, since: float) -> float | None:
    """Seconds from `since` (time.monotonic()) to the first 403 on `path` with `token`, or None."""
    while True:
        if s.get(path, token).status_code == 403:
            return time.monotonic() - since
        if time.monotonic() - since > REVOCATION_TIMEOUT_S:
            return None
        time.sleep(REVOCATION_POLL_S)


def step_11_revocation(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(11, "Removed from admin in Cognito: the same, still valid token is refused at once")
    s.admin_create("grace", email="grace@example.com", given_name="Grace")
    s.make_admin("grace")
    grace = s.sub_of("grace")
    token = s.sign_in("grace")  # PostAuthentication mirrors her; the sync then observes her groups
    joined = s.deliver_cloudtrail("AdminAddUserToGroup", username="grace", sub=grace, group=ADMIN_GROUP)
    target = s.sign_up("ivan", email="ivan@example.com", given_name="Ivan")
    t.say(f"AdminAddUserToGroup grace -> admin; its CloudTrail event -> attributeSync {json.dumps(joined)}")
    t.say(f"grace's access token carries cognito:groups = {token_claims(token).get('cognito:groups')}")
    before = s.get(f"/users/{target}", token)
    t.say(f"grace: GET /users/{target} -> {before.status_code}")
    t.check("the admin reads another user's profile", before.status_code == 200, before.text[:200])

    removed_at = time.monotonic()
    s.remove_from_group("grace", ADMIN_GROUP)
    answer = s.deliver_cloudtrail("AdminRemoveUserFromGroup", username="grace", sub=grace, group=ADMIN_GROUP)
    t.say(f"AdminRemoveUserFromGroup grace <- admin; CloudTrail event -> attributeSync {json.dumps(answer)}")
    t.check("attributeSync reports no failed record", answer == {"batchItemFailures": []})
    row = s.stored_row(grace) or {}
    t.say(
        f"grace's mirrored groups: {sorted(row.get('groups') or [])} (known: {'groups_observed_at' in row})"
    )
    seconds = seconds_to_refusal(s, f"/users/{target}", token, removed_at)
    after = s.get(f"/users/{target}", token)
    t.say(f"same token, still valid ({ADMIN_GROUP} still in its cognito:groups): {status_line(after)}")
    shown = f"{seconds:.2f} s" if seconds is not None else f"none within {REVOCATION_TIMEOUT_S:.0f} s"
    t.say(f"from AdminRemoveUserFromGroup to the first 403: {shown}")
    t.check(
        "the admin's next request with the same token is refused (403)",
        seconds is not None and after.status_code == 403,
        status_line(after),
    )


RIGHTS_STEPS = (step_11_revocation,)
