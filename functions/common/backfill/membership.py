"""Every user's groups, listed per group rather than per user: ListGroups (60 a page), then
ListUsersInGroup for each group (60 a page), a call per page, never one per user.

ListUsersInGroup is in Cognito's UserList quota category with ListUsers (30 requests per second per
account, not adjustable), so it takes its slots from the run's one rate limiter. ListGroups is in
UserPoolResourceRead (20 per second per account, at most 5 per second per pool for one operation):
its few calls take slots from a limiter of their own at `LIST_GROUPS_RPS`. The groups are listed on
up to `workers` threads (one group's pages follow each other's tokens).

The result is stamped with the time just before the first call: the listing saw each group at that
time or later, so it never claims a newer observation than it made (a sync that observed a user
during the listing writes a newer membership, which this one never overwrites). A user the listing
did not meet in any group is in none (known empty), not unknown. Memory: one entry per user in at
least one group (the sub and a reference to a tuple of group names shared by every user with the
same groups), measured in docs/BACKFILL.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cognito_mirror.group_members import valid_group
from functions.common.backfill.listing import PAGE_SIZE, SegmentLister
from functions.common.backfill.rate_limit import RateLimiter
from functions.common.backfill.summary import Tally, new_tally
from models.partiql import Membership
from models.user import now_us

LIST_GROUPS_RPS = 5.0


class Memberships:
    """Who is in which group, for the whole pool, as observed at `observed_at` (µs)."""

    def __init__(self, observed_at: int, groups_of: dict[str, tuple[str, ...]]) -> None:
        self.observed_at = observed_at
        self._groups_of = groups_of

    def __len__(self) -> int:
        return len(self._groups_of)

    def of(self, sub: str) -> Membership:
        """`sub`'s membership: its groups (sorted), or none when no group listed it."""
        return Membership(self._groups_of.get(sub, ()), self.observed_at)


class MembershipLister:
    def __init__(
        self, lister: SegmentLister, *, workers: int, stopping: Callable[[], bool], tally: Tally | None = None
    ) -> None:
        self._lister = lister
        self._workers = max(1, workers)
        self._stopping = stopping
        self._pool_id = lister.options.user_pool_id
        self._groups_limiter = RateLimiter(LIST_GROUPS_RPS)
        self.tally = tally if tally is not None else new_tally()
        self._lock = threading.Lock()

    def run(self) -> Memberships | None:
        """The pool's memberships, or None when the run stopped before the listing ended."""
        observed_at = now_us()  # before the first call: the listing is at least this fresh
        groups = self._group_names()
        if groups is None:
            return None
        members: dict[str, tuple[str, ...]] = {}
        with ThreadPoolExecutor(max_workers=min(self._workers, max(1, len(groups)))) as pool:
            # list(): every group's answer, so a fatal error is raised rather than lost.
            done = list(pool.map(lambda group: self._list_group(group, members), groups))
        if not all(done):
            return None
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        for sub, names in members.items():  # one tuple per distinct set of groups
            key = tuple(sorted(names))
            members[sub] = shared.setdefault(key, key)
        return Memberships(observed_at, members)

    def _each_page(
        self, operation: str, kwargs: dict[str, Any], on_page: Callable[[dict[str, Any]], None], **call: Any
    ) -> bool:
        """Call `on_page` with every page of a listing (NextToken), as it comes (a group of any size
        holds one page at a time); False when the run stopped in between."""
        while True:
            if self._stopping():
                return False
            page_tally = new_tally()
            page = self._lister.call(operation, kwargs, page_tally, **call)
            with self._lock:
                self.tally["throttles"] += page_tally["throttles"]
                self.tally["group_calls"] += 1
            on_page(page)
            if not page.get("NextToken"):
                return True
            kwargs = {**kwargs, "NextToken": page["NextToken"]}

    def _group_names(self) -> list[str] | None:
        request = {"UserPoolId": self._pool_id, "Limit": PAGE_SIZE}
        names: list[str] = []

        def add(page: dict[str, Any]) -> None:
            names.extend(group.get("GroupName") for group in page.get("Groups", []))

        if not self._each_page("ListGroups", request, add, limiter=self._groups_limiter):
            return None
        return [name for name in names if isinstance(name, str) and valid_group(name)]

    def _list_group(self, group: str, members: dict[str, tuple[str, ...]]) -> bool:
        request = {"UserPoolId": self._pool_id, "GroupName": group, "Limit": PAGE_SIZE}

        def add(page: dict[str, Any]) -> None:
            subs = [_sub_of(user) for user in page.get("Users", [])]
            with self._lock:
                for sub in subs:
                    if sub is not None:
                        members[sub] = (*members.get(sub, ()), group)

        return self._each_page("ListUsersInGroup", request, add, missing_ok=True)  # deleted since: no member


def _sub_of(user: dict[str, Any]) -> str | None:
    for attribute in user.get("Attributes", []):
        if attribute.get("Name") == "sub" and isinstance(attribute.get("Value"), str):
            return str(attribute["Value"])
    return None
