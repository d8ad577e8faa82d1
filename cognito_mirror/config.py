"""What the library and the mirror's own functions share about configuration: the reader's
settings and the parsers every setting of the project is read with (docs/CONFIGURATION.md names
every variable; a test compares it with the code).

`ReaderSettings.from_env(**parsed)` parses a reader's variables once (values the caller's own settings
already hold are passed in, not read again); `MirrorReader.from_settings(settings)` builds a reader
from them. The parsers (`env`, `env_float`, `env_int`, `env_choice`, `env_csv`) answer a bad value
with one `ConfigurationError` naming the variable and what it allows.
"""

from __future__ import annotations

from cognito_mirror._config import JwtConfig, ReaderSettings, env, env_choice, env_csv, env_float, env_int

__all__ = [
    "JwtConfig",
    "ReaderSettings",
    "env",
    "env_choice",
    "env_csv",
    "env_float",
    "env_int",
]
