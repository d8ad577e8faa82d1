"""The mirror's main job (the demo's steps 1-6) as assertions over HTTP and the AWS APIs."""

from __future__ import annotations

from collections.abc import Callable

from scripts.scenario import Scenario, token_claims

Unique = Callable[[str], str]
PROFILE = {"email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace"}


def profile_of(attributes: dict[str, str]) -> dict[str, str | None]:
    return {name: attributes.get(name) for name in (*PROFILE, "custom:tenant")}


def test_confirmed_sign_up_is_mirrored_by_the_post_confirmation_trigger(scenario: Scenario, unique: Unique):
    # Given a user who signs up with standard and custom attributes
    username = unique("ada")
    # When the sign-up is confirmed
    sub = scenario.sign_up(username, **PROFILE, custom__tenant="analytical")
    # Then the trigger has written the full profile to the mirror
    row = scenario.stored_row(sub)
    assert row is not None
    assert row["source"] == "post_confirmation"
    assert row["username"] == username
    assert profile_of(row["attributes"]) == {**PROFILE, "custom:tenant": "analytical"}


def test_access_token_lacks_the_profile_that_get_me_returns_from_the_mirror(
    scenario: Scenario, unique: Unique
):
    # Given a confirmed user
    username = unique("ada")
    sub = scenario.sign_up(username, **PROFILE, custom__tenant="analytical")
    # When they sign in and call GET /me with the access token
    token = scenario.sign_in(username)
    response = scenario.get("/me", token)
    # Then the token has no profile claims, but the answer has every attribute
    assert not {"email", "given_name", "family_name"} & set(token_claims(token))
    assert token_claims(token)["token_use"] == "access"  # the only kind the API accepts by default
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == sub
    assert body["username"] == username
    assert profile_of(body["attributes"]) == {**PROFILE, "custom:tenant": "analytical"}


def test_get_me_without_a_token_is_rejected_by_the_authorizer(scenario: Scenario):
    # Given no Authorization header
    # When GET /me is called
    response = scenario.get("/me", None)
    # Then the JWT authorizer answers 401 before any Lambda runs
    assert response.status_code == 401


def test_attribute_change_delivered_to_attribute_sync_reaches_get_me(scenario: Scenario, unique: Unique):
    # Given a signed-in user whose profile is mirrored
    username = unique("ada")
    sub = scenario.sign_up(username, **PROFILE, custom__tenant="analytical")
    token = scenario.sign_in(username)
    # When an admin changes an attribute and its CloudTrail event reaches attribute_sync
    scenario.update_attributes(username, custom__tenant="engines")
    answer = scenario.deliver_cloudtrail("AdminUpdateUserAttributes", username=username, sub=sub)
    # Then no record failed and GET /me shows the new value
    assert answer == {"batchItemFailures": []}
    response = scenario.get("/me", token)
    assert response.status_code == 200
    assert response.json()["attributes"]["custom:tenant"] == "engines"


def test_admin_created_user_is_served_after_the_first_sign_in(scenario: Scenario, unique: Unique):
    # Given a user created by an admin: no PostConfirmation, so no mirror row
    username = unique("grace")
    sub = scenario.admin_create(username, email="grace@example.com", custom__tenant="navy")
    assert scenario.stored_row(sub) is None
    # When the user signs in and calls GET /me
    token = scenario.sign_in(username)
    response = scenario.get("/me", token)
    # Then the profile is served (PostAuthentication or read-through wrote it)
    assert response.status_code == 200
    assert response.json()["attributes"]["email"] == "grace@example.com"
    assert scenario.stored_row(sub) is not None


def test_backfill_mirrors_users_the_triggers_never_saw_and_verify_finds_no_drift(
    scenario: Scenario, unique: Unique
):
    # Given users that exist only in Cognito
    subs = [scenario.admin_create(unique("edsger"), email="edsger@example.com") for _ in range(3)]
    assert all(scenario.stored_row(sub) is None for sub in subs)
    # When the backfill runs
    run = scenario.backfill()
    # Then it succeeds, every user is mirrored, and verification reports no drift
    assert run.returncode == 0, run.stderr[-500:]
    assert all(scenario.stored_row(sub) is not None for sub in subs)
    verify = scenario.backfill("--verify")
    assert verify.returncode == 0, verify.stdout[-500:] + verify.stderr[-500:]


def test_backfill_verify_reports_drift_with_exit_3(scenario: Scenario, unique: Unique):
    # Given a mirrored user whose attribute changed in Cognito without any event
    username = unique("barbara")
    scenario.sign_up(username, email="barbara@example.com", custom__tenant="clu")
    scenario.update_attributes(username, custom__tenant="argus")
    # When the backfill verifies the mirror
    verify = scenario.backfill("--verify")
    # Then it reports drift
    assert verify.returncode == 3, verify.stdout[-500:] + verify.stderr[-500:]


def test_deleted_user_becomes_a_tombstone_and_an_admin_read_answers_404(scenario: Scenario, unique: Unique):
    # Given an admin and a mirrored user the admin can read
    admin = unique("root")
    scenario.admin_create(admin, email="root@example.com")
    scenario.make_admin(admin)
    admin_token = scenario.sign_in(admin)
    username = unique("alan")
    sub = scenario.sign_up(username, email="alan@example.com")
    assert scenario.get(f"/users/{sub}", admin_token).status_code == 200
    # When the user is deleted and the CloudTrail event reaches attribute_sync
    scenario.delete_user(username)
    answer = scenario.deliver_cloudtrail("AdminDeleteUser", username=username, sub=sub)
    # Then the row is a tombstone and the admin read answers 404
    assert answer == {"batchItemFailures": []}
    row = scenario.stored_row(sub)
    assert row is not None and row["deleted"] is True
    assert scenario.get(f"/users/{sub}", admin_token).status_code == 404


def test_reading_another_user_without_the_admin_group_is_forbidden(scenario: Scenario, unique: Unique):
    # Given two ordinary users
    reader = unique("eve")
    scenario.sign_up(reader, email="eve@example.com")
    other_sub = scenario.sign_up(unique("bob"), email="bob@example.com")
    # When one reads the other's profile
    response = scenario.get(f"/users/{other_sub}", scenario.sign_in(reader))
    # Then the API answers 403
    assert response.status_code == 403
