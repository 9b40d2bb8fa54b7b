"""API keys for model plugins: read from a named environment variable when a model is built.

A key never goes in a config: the config names the variable (``api_key_env``), and the name
must be one whose value :mod:`eicore.redact` masks in logs and records.
"""

from __future__ import annotations

import os

from eicore.config import ConfigError
from eicore.redact import SECRET_ENV


def api_key(env: str, *, owner: str) -> str:
    """The value of the environment variable ``env``, else a ConfigError naming it.

    ``owner`` names the config in the message (``model.api_key_env`` for a model).
    """
    if not SECRET_ENV.search(env):
        raise ConfigError(
            f"{owner}={env!r}: name a variable containing API_KEY, _TOKEN, SECRET or PASSWORD, "
            "so that eicore masks its value in logs and records"
        )
    value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigError(
            f"the environment variable {env} is not set ({owner}={env}): export {env}=<your key>, "
            f"or name another variable with {owner}=<NAME>"
        )
    return value
