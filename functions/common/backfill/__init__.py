"""The list / compare / write / prune engine shared by `python -m functions.backfill` and the
scheduled reconcile, one concern per module:

- options: what a run is asked to do; summary: what it found (counters, Summary); errors.
- rate_limit: the one token bucket for every Cognito call; functions.common.retry: the backoff.
- listing: ListUsers paging by `sub` prefix segment; membership: every user's groups, listed per
  group (ListGroups, ListUsersInGroup); pipeline: the bounded queue from listing
  threads to writer threads, committing each segment's pages in order.
- compare: classify a page against the mirror and repair it; confirm: AdminGetUser before a
  revive or a prune.
- mirror_scan: after a complete listing, orphans (prune) and directory index keys (verify, reindex).
- checkpoint: progress on disk (sqlite); engine: one run; reconcile_state: the scheduled reconcile
  across invocations.
"""
