"""The mirror's own reader: the cognito_mirror library, healing a miss in-process (no Lambda hop)."""

from __future__ import annotations

from functools import cache

from cognito_mirror import MirrorReader
from functions.common.observability import metrics
from functions.common.repair import repair_user
from models.settings import get_settings


@cache
def mirror_reader() -> MirrorReader:
    """Built once per container from the mirror's variables; counts into the mirror's Metrics.

    The API's role may read Cognito and write the mirror, so a miss runs the repair function's logic
    here (Cognito read, guarded write). Without USER_POOL_ID there is nothing to repair from: a 404.
    """
    settings = get_settings()
    repair = repair_user if settings.user_pool_id else None
    return MirrorReader.from_env(
        repair=repair, metrics=metrics, indexed_attributes=settings.indexed_attributes
    )
