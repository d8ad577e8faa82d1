"""A group's listing in the library (cognito_mirror/group_directory.py), on in-memory pages: the
continuation belongs to its group, stale items are passed over while the page still fills, and
BatchGetItem's unprocessed keys are asked again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from cognito_mirror import DirectoryQueryError, MirrorUnavailableError
from cognito_mirror import group_directory as gd
from cognito_mirror.directory import Continuation
from cognito_mirror.group_members import member_key, query_keys
from cognito_mirror.record import shard_of


class Members:
    """The group-members table's Query pages, from a dict of memberships: sub -> member flag."""

    def __init__(self, group: str, members: dict[str, bool]) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        for sub in sorted(members):
            item = {
                "group_key": {"S": member_key(group, sub)},
                "sub": {"S": sub},
                "member": {"BOOL": members[sub]},
            }
            self.items.setdefault(member_key(group, sub), []).append(item)

    def query_page(
        self, index: str | None, key: str, partition: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[Sequence[Mapping[str, Any]], dict[str, Any] | None]:
        assert index is None and key == "group_key"
        items = self.items.get(partition, [])
        first = 0 if start is None else [i["sub"]["S"] for i in items].index(start["sub"]["S"]) + 1
        page = items[first : first + limit]
        more = first + limit < len(items)
        return page, ({"group_key": {"S": partition}, "sub": page[-1]["sub"]} if more and page else None)


def row(sub: str, groups: list[str], *, deleted: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sub": {"S": sub},
        "observed_at": {"N": "1"},
        "deleted": {"BOOL": deleted},
        "groups_observed_at": {"N": "1"},
    }
    if groups:
        item["groups"] = {"SS": groups}
    return item


def test_a_continuation_of_another_group_or_shard_is_refused_before_reading() -> None:
    # Given a continuation of sales' first partition, and one past the last shard
    foreign = Continuation(0, {"group_key": {"S": query_keys("sales")[0]}, "sub": {"S": "x"}})
    beyond = Continuation(len(query_keys("ops")), None)
    # When ops is planned from them / Then the directory refuses both
    for after in (foreign, beyond):
        with pytest.raises(DirectoryQueryError, match="does not belong"):
            gd.plan_group_query(Members("ops", {}).query_page, "ops", limit=5, max_limit=10, after=after)


def test_a_page_passes_over_stale_items_and_still_fills_then_resumes_after_its_last_item() -> None:
    # Given 10 memberships of ops: 3 rows left ops, 1 user deleted, 1 item already removed
    subs = [f"user-{i:02d}" for i in range(10)]
    members = Members("ops", {sub: sub != "user-04" for sub in subs})
    rows = {sub: row(sub, ["ops"]) for sub in subs}
    for sub in ("user-01", "user-05", "user-08"):
        rows[sub] = row(sub, ["sales"])
    rows["user-06"] = row("user-06", ["ops"], deleted=True)
    asked: list[list[str]] = []

    def rows_of(keys: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        asked.append(list(keys))
        return {key: rows[key] for key in keys}

    query = gd.plan_group_query(members.query_page, "ops", limit=3, max_limit=10)
    # When ops is listed 3 at a time
    pages = []
    after = None
    while True:
        page = gd.read_group_page(query, rows_of, "ops", after)
        pages.append([r["sub"] for r in page.rows])
        if page.next is None:
            break
        after = page.next
    # Then only the 5 live members holding ops, in (shard, sub) order, every page but the last full
    expected = sorted(["user-00", "user-02", "user-03", "user-07", "user-09"], key=lambda s: (shard_of(s), s))
    assert [sub for page in pages for sub in page] == expected
    assert all(len(page) == 3 for page in pages[:-1])
    # and no row was read twice, nor a removed membership's row at all
    read = [sub for keys in asked for sub in keys]
    assert len(read) == len(set(read)) and "user-04" not in read


def test_unprocessed_keys_are_asked_again_then_the_read_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gd.time, "sleep", lambda _: None)
    calls: list[dict[str, Any]] = []

    def throttled_once(request: dict[str, Any]) -> Mapping[str, Any]:
        calls.append(request)
        keys = request["RequestItems"]["mirror"]["Keys"]
        if len(calls) == 1:  # the first answer leaves the second key unprocessed
            return {
                "Responses": {"mirror": [row(keys[0]["sub"]["S"], [])]},
                "UnprocessedKeys": {"mirror": {"Keys": keys[1:]}},
            }
        return {"Responses": {"mirror": [row(k["sub"]["S"], []) for k in keys]}}

    # Given a BatchGetItem that leaves a key unprocessed once / Then both rows come back in two calls
    assert set(gd.read_rows(throttled_once, "mirror", ["a", "b", "a", "#layout"])) == {"a", "b"}
    assert len(calls) == 2

    # Given one that never processes a key / Then the read fails as the mirror failing (503)
    def never(request: dict[str, Any]) -> Mapping[str, Any]:
        return {"Responses": {"mirror": []}, "UnprocessedKeys": request["RequestItems"]}

    with pytest.raises(MirrorUnavailableError):
        gd.read_rows(never, "mirror", ["a"])


def test_an_answer_that_is_not_a_batch_read_of_rows_fails_as_the_mirror_failing() -> None:
    with pytest.raises(MirrorUnavailableError):
        gd.read_rows(lambda _: {"Responses": {"mirror": [{"no": "sub"}]}}, "mirror", ["a"])
    with pytest.raises(MirrorUnavailableError):
        gd.read_rows(lambda _: {"Items": []}, "mirror", ["a"])
