"""The library's settings and environment parsers, for services that build their own settings.

`ReaderSettings.from_env(**parsed)` parses a reader's variables once (values the caller's own settings
already hold are passed in, not read again); `MirrorReader.from_settings(settings)` builds a reader
from them. The parsers (`env`, `env_float`, `env_int`, `env_choice`, `env_csv`) answer a bad value
with one `ConfigurationError` naming the variable and what it allows.
"""

from __future__ import annotations

from cognito_mirror._config import JwtConfig, ReaderSettings, env, env_choice, env_csv, env_float, env_int

__all__ = ["JwtConfig", "ReaderSettings", "env", "env_choice", "env_csv", "env_float", "env_int"]
