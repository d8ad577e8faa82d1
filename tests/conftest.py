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
