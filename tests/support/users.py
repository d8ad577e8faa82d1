"""Put a user in the mirror through the guarded write path (the reliability tests' one seeder)."""

from __future__ import annotations

from models.table import mirror_table
from models.user import UserSnapshot, now_us


def mirror_user(sub: str, username: str, attributes: dict[str, str], source: str = "backfill") -> None:
    mirror_table().put_snapshot(
        UserSnapshot(
            sub=sub,
            username=username,
            attributes=attributes,
            status="CONFIRMED",
            enabled=True,
            observed_at=now_us(),
            source=source,
        )
    )
