"""The mirror's own reader: the cognito_mirror library, healing a miss in-process (no Lambda hop)."""

from __future__ import annotations

from functools import cache, partial

from cognito_mirror import MirrorReader
from functions.common.observability import metrics
from functions.common.repair import repair_user
from models.settings import get_settings


@cache
def mirror_reader() -> MirrorReader:
    """Built once per container from the process's one Settings; counts into the mirror's Metrics.

    The API's role may read Cognito and write the mirror, so a miss runs the repair use case here
    (Cognito read, guarded write; its module imports the write side on the first miss). Without
    USER_POOL_ID there is nothing to repair from: a 404.
    """
    settings = get_settings()
    pool = settings.user_pool_id
    repair = partial(repair_user, user_pool_id=pool) if pool else None
    return MirrorReader.from_settings(settings.reader_settings(), repair=repair, metrics=metrics)
