"""What the library and the mirror's own functions share about configuration: the names of the
environment variables both read, the reader's settings, and the parsers every setting of the project
is read with.

`ReaderSettings.from_env(**parsed)` parses a reader's variables once (values the caller's own settings
already hold are passed in, not read again); `MirrorReader.from_settings(settings)` builds a reader
from them. The parsers (`env`, `env_float`, `env_int`, `env_choice`, `env_csv`) answer a bad value
with one `ConfigurationError` naming the variable and what it allows.
"""

from __future__ import annotations

from cognito_mirror._config import JwtConfig, ReaderSettings, env, env_choice, env_csv, env_float, env_int

__all__ = [
    "DDB_CONNECT_TIMEOUT",
    "DDB_MAX_RETRIES",
    "DDB_READ_TIMEOUT",
    "INDEXED_ATTRIBUTES",
    "REPAIR_FUNCTION",
    "TABLE",
    "JwtConfig",
    "ReaderSettings",
    "env",
    "env_choice",
    "env_csv",
    "env_float",
    "env_int",
]

# The mirror table's name.
TABLE = "MIRROR_TABLE"
# The directory's indexed attributes, in slot order (cognito_mirror/index_keys.py).
INDEXED_ATTRIBUTES = "MIRROR_INDEXED_ATTRIBUTES"
# The repair function a miss invokes (the library) and the stack deploys.
REPAIR_FUNCTION = "MIRROR_REPAIR_FUNCTION"
# DynamoDB client bounds, seconds and retries.
DDB_CONNECT_TIMEOUT = "MIRROR_DDB_CONNECT_TIMEOUT"
DDB_READ_TIMEOUT = "MIRROR_DDB_READ_TIMEOUT"
DDB_MAX_RETRIES = "MIRROR_DDB_MAX_RETRIES"
