"""Parallel runs keep the tests that share a local service or the packaged templates in one worker."""

from __future__ import annotations

import pytest

from tests.support.parallel import group_of


@pytest.mark.parametrize(
    ("nodeid", "group"),
    [
        ("tests/integration/test_main_job.py::test_x", "tests/integration"),
        ("tests/integration/test_events_restart_local.py::test_y", "tests/integration"),
        ("tests/deploy/test_template_security.py::test_z[new]", "tests/deploy"),
        ("tests/stress/test_load.py::test_w", "tests/stress"),
    ],
)
def test_tests_sharing_session_services_form_one_group_per_folder(nodeid: str, group: str) -> None:
    # Given a test of a folder whose tests share session fixtures
    # When its unit of work is chosen / Then it is the folder's group, whatever the file
    assert group_of(nodeid) == group


@pytest.mark.parametrize(
    "nodeid",
    [
        "tests/component/test_api.py::test_a",
        "tests/reliability/test_faults.py::test_b[deploy]",
        "tests/unit/test_localstack.py::test_c",
        "tests/package/test_wheel.py::test_d",
    ],
)
def test_every_other_test_is_its_own_unit_of_work(nodeid: str) -> None:
    # Given a test that shares nothing costly / When its unit is chosen / Then it stands alone
    assert group_of(nodeid) == nodeid


def test_a_group_named_in_the_test_id_is_kept_and_an_at_sign_in_a_parameter_is_not_one() -> None:
    # Given ids with an explicit group suffix and with an '@' inside a parameter
    # When their units are chosen / Then the suffix names the group; the parameter is ignored
    assert group_of("tests/component/test_api.py::test_a@mine") == "mine"
    with_address = "tests/component/test_api.py::test_a[a@b.c]"
    assert group_of(with_address) == with_address
