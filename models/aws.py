"""AWS clients for the mirror's own code: the stack's one client factory (`create_client`, with its
bounds from `bounded_config`), one botocore session per AWS profile, clients made under one lock.

A session caches the service models every client loads, so each profile's clients share one. The
profile and region are passed in (an admin CLI's `--aws-profile`, `--region`), never through the
process environment; with no profile botocore reads `AWS_PROFILE` and the rest of its chain itself.
`instance_metadata=False` leaves the EC2 instance metadata service out of the credential chain (the
admin CLIs' default, as `AWS_EC2_METADATA_DISABLED=true` would), so a workstation without credentials
fails at once instead of waiting for a metadata endpoint that is not there.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from botocore.config import Config

from models.settings import ClientBounds

_INSTANCE_METADATA_PROVIDER = "iam-role"  # botocore's name for the EC2 instance role provider
_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _session(profile: str | None, instance_metadata: bool) -> Any:
    import botocore.session

    session = botocore.session.Session(profile=profile)
    if not instance_metadata:
        session.get_component("credential_provider").remove(_INSTANCE_METADATA_PROVIDER)
    return session


def bounded_config(bounds: ClientBounds, *, pool_size: int | None = None, validate: bool = True) -> Config:
    """A client config: the bounds' timeouts and attempts in all (botocore's standard retry mode), and
    a connection pool of `pool_size` (botocore's default: 10)."""
    options: dict[str, Any] = {"parameter_validation": validate}
    if pool_size is not None:
        options["max_pool_connections"] = pool_size
    return Config(
        connect_timeout=bounds.connect_timeout,
        read_timeout=bounds.read_timeout,
        retries={"total_max_attempts": bounds.max_attempts, "mode": "standard"},
        **options,
    )


def create_client(
    service: str,
    *,
    region: str,
    config: Config,
    profile: str | None = None,
    instance_metadata: bool = True,
    endpoint_url: str | None = None,
) -> Any:
    """A client of `service` from the profile's one session (endpoints: botocore's own variables
    unless `endpoint_url` is given)."""
    with _LOCK:  # a botocore session is not thread-safe
        return _session(profile, instance_metadata).create_client(
            service, region_name=region, endpoint_url=endpoint_url, config=config
        )
