"""Keeping secrets out of logs, records, config snapshots and the command's output.

A secret is the value of an environment variable whose name marks it as one, or the value of a
secret-named config field (:func:`keep_secret`). A secret is masked in every form it takes: with
the whitespace around it trimmed (as a key is sent), and any piece of it of
:data:`MIN_FRAGMENT` characters or more (an error body cut inside the key, a proxy echoing part
of a header).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO, cast

SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
SECRET_FIELD = re.compile(r"(api_key|token|secret|password)$", re.IGNORECASE)
SECRET_OVERRIDE = re.compile(r"([^=\s,]*(api_key|token|secret|password))=[^,\s]+", re.IGNORECASE)
"""A command-line override setting a secret-named field, as Hydra records it (also comma-joined)."""
MASK = "***"
MIN_FRAGMENT = 8
"""Secrets shorter than this are not masked (too likely to be ordinary text); longer ones are
masked wherever any piece of this many characters of them appears."""

KEY_SHAPE = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-(?=[A-Za-z0-9_\-]*[0-9])[A-Za-z0-9_\-]{20,}|AIza[A-Za-z0-9_\-]{30,}"
    r"|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}|gsk_[A-Za-z0-9]{30,}"
    r"|r8_[A-Za-z0-9]{30,}|(?:AKIA|ASIA)[A-Z0-9]{16})"
)
"""The common providers' keys (OpenAI, Anthropic, Google, Hugging Face, GitHub, GitLab, Slack,
Groq, Replicate, AWS): a key prefix, then a key's worth of key characters."""
RANDOM_RUN = re.compile(r"[A-Za-z0-9]{32,}")
"""A long unbroken run of letters and digits: a key if it mixes cases and digits."""

_kept: set[str] = set()


def keep_secret(value: object) -> None:
    """Mask ``value`` from now on in this process (a secret-named config field's value)."""
    if isinstance(value, str) and len(value.strip()) >= MIN_FRAGMENT:
        _kept.add(value.strip())


def keep_secrets_of(tree: Any) -> None:
    """Mask the values of every secret-named field of a JSON-like tree from now on."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if SECRET_FIELD.search(str(k)):
                keep_secret(v)
            keep_secrets_of(v)
    elif isinstance(tree, list):
        for v in tree:
            keep_secrets_of(v)


def secret_values() -> list[str]:
    """Every secret this process knows, trimmed, longest first. The environment is read anew
    each time (a key set later is masked too), but only the secret-named variables' values."""
    values = {os.environ.get(k, "").strip() for k in os.environ if _secret_name(k)} | _kept
    return sorted((v for v in values if len(v) >= MIN_FRAGMENT), key=len, reverse=True)


@functools.lru_cache(maxsize=1024)
def _secret_name(name: str) -> bool:
    """Whether an environment variable's name marks it as a secret (asked once per name: every
    completion and every line printed is masked)."""
    return SECRET_ENV.search(name) is not None


@functools.lru_cache(maxsize=16)
def _fragments(secrets: tuple[str, ...]) -> frozenset[str]:
    """Every piece of :data:`MIN_FRAGMENT` characters of ``secrets``: any longer piece of a
    secret is a chain of overlapping ones."""
    size = MIN_FRAGMENT
    return frozenset(s[i : i + size] for s in secrets for i in range(len(s) - size + 1))


def redact(text: str) -> str:
    """``text`` with every known secret masked, whole or in pieces of 8+ characters."""
    spans: list[tuple[int, int]] = []
    for piece in _fragments(tuple(secret_values())):
        start = text.find(piece)
        while start != -1:
            spans.append((start, start + MIN_FRAGMENT))
            start = text.find(piece, start + 1)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    done = 0
    for start, end in spans:
        if start > done or not out:
            out += [text[done:start], MASK]
        done = max(done, end)
    return "".join(out) + text[done:]


def excerpt(text: str, limit: int) -> str:
    """``text`` with secrets masked, then cut to ``limit`` characters: masking a cut text would
    leave the piece of a key before the cut in clear."""
    masked = redact(text)
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"


def redact_tree(data: Any) -> Any:
    """A JSON-like tree with secret-named fields masked and secret values scrubbed from strings."""
    if isinstance(data, dict):
        return {
            k: MASK if SECRET_FIELD.search(str(k)) and isinstance(v, str) and v else redact_tree(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_tree(v) for v in data]
    if isinstance(data, str):
        return SECRET_OVERRIDE.sub(rf"\1={MASK}", redact(data))
    return data


def looks_like_key(text: str) -> bool:
    """Whether ``text`` holds something shaped like an API key (a provider's key prefix, or a
    long random-looking run of mixed-case letters and digits)."""
    if KEY_SHAPE.search(text):
        return True
    return any(
        re.search("[a-z]", run) and re.search("[A-Z]", run) and re.search("[0-9]", run)
        for run in RANDOM_RUN.findall(text)
    )


class MaskedStream:
    """A text stream that masks secrets in everything written to it (Hydra's messages echo
    overrides; a traceback quotes values); everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Mask secrets in everything this process prints while inside (eicore's messages, Hydra's,
    a library's). An exception leaving it leaves the masking in place: the traceback the
    interpreter prints next is masked too."""
    saved = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, MaskedStream(sys.stdout))
    sys.stderr = cast(TextIO, MaskedStream(sys.stderr))
    yield
    sys.stdout, sys.stderr = saved
