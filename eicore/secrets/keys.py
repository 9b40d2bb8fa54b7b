"""API keys for model plugins: read from a named environment variable when a model is built.

A key never goes in a config: the config names the variable (``api_key_env``), and the name
must be one whose value :mod:`eicore.secrets.masking` masks in logs and records. The command line is
checked before Hydra reads it (:func:`check_overrides`): Hydra echoes overrides in its error
messages, so a key given where a variable name or an ordinary setting belongs is refused, and
never shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from eicore.run.settings import ConfigError
from eicore.secrets.masking import SECRET_ENV, SECRET_FIELD, keep_secret, looks_like_key

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HIDDEN = "(the value is not shown: it may be a key)"


def api_key(env: str, *, owner: str) -> str:
    """The value of the environment variable ``env``, trimmed, else a ConfigError naming it.

    ``owner`` names the config in the message (``model.api_key_env`` for a model).
    """
    if not VARIABLE_NAME.match(env) or looks_like_key(env):
        raise ConfigError(
            f"{owner} is not the name of an environment variable {HIDDEN}: export the key as "
            f"e.g. ACME_API_KEY and set {owner}=ACME_API_KEY"
        )
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


def check_overrides(overrides: Sequence[str]) -> None:
    """Refuse, before Hydra sees them, overrides that would put a key where eicore cannot mask
    it; remember the values of secret-named fields as secrets.

    Refused, with a message that never holds the value: a ``*_env`` field (it names a variable)
    whose value is not a variable name; a key-shaped value in a field that is not secret-named;
    adding a secret-named field with ``+`` (a component either has the field, or takes no key
    there). A ConfigError says which override to fix.
    """
    for override in overrides:
        if "=" not in override or override.startswith("-"):
            continue
        target, value = override.split("=", 1)
        name = target.lstrip("~+")
        field = re.split(r"[.@]", name)[-1]
        if SECRET_FIELD.search(field):
            for piece in (value, *value.split(",")):
                keep_secret(piece.strip().strip("'\""))
            if target.startswith("+"):
                owner = name.rsplit(".", 1)[0] if "." in name else "model"
                raise ConfigError(
                    f"{target}: eicore does not add secret fields to a config {HIDDEN}; keys "
                    "come from the environment: export the key and name its variable with "
                    f"{owner}.api_key_env=<NAME>"
                )
        elif field.endswith("_env"):
            names = [v.strip() for v in value.split(",")]  # a sweep: `a_env=A_KEY,B_KEY`
            if any(
                n not in ("", "null") and (not VARIABLE_NAME.match(n) or looks_like_key(n))
                for n in names
            ):
                raise ConfigError(
                    f"{name} takes the name of an environment variable, and the value given is "
                    f"not one {HIDDEN}: export the key as e.g. ACME_API_KEY and set "
                    f"{name}=ACME_API_KEY"
                )
        elif looks_like_key(value):
            raise ConfigError(
                f"{name}: the value looks like an API key {HIDDEN}; keys come only from the "
                "environment: export it and name its variable with model.api_key_env=<NAME>"
            )
