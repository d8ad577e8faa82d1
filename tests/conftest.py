"""Process-wide test settings: fake AWS credentials, and nothing that can reach AWS."""

from __future__ import annotations

import os

# Shared moto/no-network fixtures, the session-wide guard that fails the run on PII in logs, and the
# xdist groups that keep each shared local service in one worker.
pytest_plugins = ["tests.support.fixtures", "tests.support.pii_watch", "tests.support.parallel"]

# Set before any client exists. Endpoint variables are removed so moto intercepts everything.
for _name in list(os.environ):
    if _name.startswith("AWS_ENDPOINT_URL") or _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MIRROR_TABLE": "mirror-test",
        "POWERTOOLS_SERVICE_NAME": "cognito-attribute-mirror-test",
        "POWERTOOLS_METRICS_NAMESPACE": "CognitoAttributeMirrorTest",
        "POWERTOOLS_DEV": "false",
    }
)


def _share_botocore_models() -> None:
    """Parse each botocore model file once per test process. botocore caches what a loader read per
    session, and every test starts new sessions (moto's mock resets boto3's default session; the
    stack's sessions are cleared between tests), so each test used to re-parse the same JSON
    (about a quarter of a component test's time). botocore never changes what it loaded (its own
    per-session cache hands out the same objects), so sharing them across sessions is safe."""
    from functools import cache
    from typing import Any

    from botocore.loaders import JSONFileLoader, Loader

    load = JSONFileLoader.load_file

    @cache
    def load_once(file_path: str) -> Any:
        return load(JSONFileLoader(), file_path)

    JSONFileLoader.load_file = lambda self, file_path: load_once(file_path)  # type: ignore[method-assign]

    # Listing the installed services walks botocore's data folders (thousands of stat calls).
    list_services = Loader.list_available_services

    @cache
    def services_once(search_paths: tuple[str, ...], type_name: str) -> list[str]:
        loader = Loader(extra_search_paths=list(search_paths), include_default_search_paths=False)
        return list(list_services(loader, type_name))

    def list_available_services(self: Loader, type_name: str) -> list[str]:
        return list(services_once(tuple(self.search_paths), type_name))

    Loader.list_available_services = list_available_services  # type: ignore[method-assign]


def _share_motos_pool_key() -> None:
    """moto imports the same bundled RSA key (recovering its primes) for every user pool it creates:
    ~0.1 s a pool. Import each distinct key once per test process; a key object is never changed."""
    import json
    from functools import cache
    from typing import Any

    from joserfc.jwk import RSAKey

    import_key = RSAKey.import_key

    @cache
    def import_once(text: str) -> Any:
        return import_key(json.loads(text))

    def shared(cls: type[RSAKey], value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict) and not args and not kwargs:
            return import_once(json.dumps(value, sort_keys=True))
        return import_key(value, *args, **kwargs)

    RSAKey.import_key = classmethod(shared)  # type: ignore[method-assign,assignment]


_share_botocore_models()
_share_motos_pool_key()
