"""The model: one google-genai client per instance, made on the first call, closed at the end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from eicore import AnswerError, APIModel, Completion, Prompt, RefusalError, api_key
from eicore_gemini.config import GeminiConfig
from eicore_gemini.contents import content_request
from eicore_gemini.retries import with_retries

if TYPE_CHECKING:
    from google import genai

WITHHELD = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "RECITATION"}
)
"""Finish reasons for which Gemini withholds the answer."""
CONNECTIONS = 1000
"""Connection pool size (httpx2's default keeps only 20 alive, fewer than a run's concurrency)."""


class ThoughtsOnlyError(AnswerError):
    """The token budget ran out before any answer text (a thinking model's thoughts took it)."""


class GeminiModel(APIModel["genai.Client"]):
    """One generateContent request per prompt, retried by :mod:`eicore_gemini.retries`."""

    config: GeminiConfig

    def __init__(self, config: GeminiConfig) -> None:
        super().__init__(config)
        self._api_key = api_key(config.api_key_env, owner="model.api_key_env")
        import google.genai  # noqa: F401 - imported now, not on the run's event loop

    def make_client(self) -> genai.Client:
        import httpx2
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.config.base_url,
            api_version=api_version(self.config),
            timeout=round(self.config.timeout * 1000),
            async_client_args={"limits": httpx2.Limits(max_connections=CONNECTIONS,
                                                       max_keepalive_connections=CONNECTIONS)},
        )  # fmt: skip
        return genai.Client(api_key=self._api_key, http_options=options)

    async def close_client(self, client: genai.Client) -> None:
        await client.aio.aclose()

    async def call_api(self, prompt: Prompt) -> Completion:
        request = content_request(prompt, self.config)
        models = self.client().aio.models
        started = time.perf_counter()
        response = await with_retries(
            lambda: models.generate_content(**request), self.config.max_retries
        )
        return completion_of(response, time.perf_counter() - started)


def api_version(config: GeminiConfig) -> str | None:
    """The configured API version; with a custom ``base_url`` and none set, ``v1beta``."""
    if config.api_version is not None or config.base_url is None:
        return config.api_version
    return "v1beta"


def completion_of(response: Any, latency_s: float) -> Completion:
    """The first candidate's answer text as a Completion.

    A blocked prompt or a withheld answer raises RefusalError; a budget spent on thoughts
    alone raises ThoughtsOnlyError; both hold the completion (the call's usage counts). Answer
    tokens include thinking tokens (both are billed).
    """
    candidate = response.candidates[0] if response.candidates else None
    finish = _name(candidate.finish_reason) if candidate else None
    content = candidate.content if candidate else None
    parts = content.parts if content and content.parts else []
    usage = response.usage_metadata
    thoughts = (usage.thoughts_token_count or 0) if usage else 0
    completion = Completion(
        text="".join(p.text for p in parts if p.text and not p.thought),
        input_tokens=usage.prompt_token_count if usage else None,
        output_tokens=(usage.candidates_token_count or 0) + thoughts if usage else None,
        latency_s=latency_s,
        finish_reason=finish,
    )
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        blocked = _name(feedback.block_reason)
        raise RefusalError(f"the prompt was blocked (block_reason={blocked})", completion)
    if candidate is None:
        raise ValueError("the response has no candidates")
    if finish in WITHHELD:
        raise RefusalError(f"the answer was withheld (finish_reason={finish})", completion)
    if not completion.text and finish == "MAX_TOKENS" and thoughts:
        raise ThoughtsOnlyError(
            f"no answer text: {thoughts} thinking tokens used the whole budget; "
            "raise model.max_tokens",
            completion,
        )
    return completion


def _name(value: Any) -> str | None:
    """An SDK enum's value (``"STOP"``), or the raw string the API sent."""
    return None if value is None else str(getattr(value, "value", value))
