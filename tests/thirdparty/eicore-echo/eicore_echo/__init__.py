"""eicore-echo: deterministic test models (``echo``, ``echo-vision``, ``scripted``, ``grader``)
and a ``keyword`` judge."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from eicore import (
    AnswerItem,
    Completion,
    Judge,
    Judgment,
    Model,
    ModelRole,
    Prompt,
    Sample,
    TriggerVerdict,
    hookimpl,
)
from eicore.testing.scripted import ScriptedConfig, ScriptedModel

WORD = re.compile(r"[A-Za-z]+")
INTERRUPT_ENV = "ECHO_INTERRUPT_AFTER"
FAIL_ON_ENV = "ECHO_FAIL_ON"
HOLD_ENV = "ECHO_HOLD"
"""A file path: every call waits until that file exists, after writing ``<path>.waiting`` (the
test's sign that the run is under way, holding its run directory)."""
"""Test switches read from the environment, not the config: they leave the run's identity alone,
so the same command run again (without them) resumes the same run."""


def key_words(text: str, min_length: int = 5) -> list[str]:
    """Distinct words of ``min_length`` letters or more, lower-cased, in order of appearance."""
    return list(dict.fromkeys(w.lower() for w in WORD.findall(text) if len(w) >= min_length))


@dataclass
class EchoConfig:
    log: str | None = None
    """Append one JSON line per completed call to this file."""
    delay: float = 0.0
    """Seconds each call sleeps before answering (always yields to the event loop once)."""
    fail_on: list[str] = field(default_factory=list)
    """A prompt containing any of these substrings makes the call raise (also $ECHO_FAIL_ON,
    comma-separated)."""
    temperature: float = 0.0
    seed: int | None = None
    interrupt_after: int | None = None
    """Send SIGINT to this process after that many completed calls (also $ECHO_INTERRUPT_AFTER)."""
    max_words: int = 40
    batch_size: int = 1
    """Prompts per generate call (a runtime field: eicore leaves it out of cache keys)."""
    api_key: str | None = None
    """Unused; there so tests can check that eicore writes a secret field nowhere."""


class Echo(Model):
    """Answers with the key words of the last line of the last user turn (the question, for
    eicore's strategies), as a numbered list."""

    accepts_images = False
    config: EchoConfig

    def __init__(self, config: EchoConfig) -> None:
        super().__init__(config)
        if config.delay < 0:
            raise ValueError(f"delay must be 0 or more, got {config.delay}")
        self.completed = 0
        self.hold = os.environ.get(HOLD_ENV)
        env = os.environ.get(INTERRUPT_ENV)
        self.interrupt_after = config.interrupt_after or (int(env) if env else None)
        extra = [n for n in os.environ.get(FAIL_ON_ENV, "").split(",") if n]
        self.fail_on = [*config.fail_on, *extra]

    def answer(self, prompt: Prompt) -> str:
        user = [m for m in prompt.messages if m.role == "user"][-1]
        lines = [line for line in user.text.splitlines() if line.strip()]
        words = key_words(lines[-1] if lines else "")[: self.config.max_words]
        out = [f"{i}. {w}" for i, w in enumerate(words, start=1)]
        for image in prompt.images:
            out.append(f"[image {image.media_type} {image.sha256[:12]}]")
        return "\n".join(out)

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        if self.hold:
            with open(f"{self.hold}.waiting", "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()}\n")
            while not os.path.exists(self.hold):
                await asyncio.sleep(0.01)
        await asyncio.sleep(self.config.delay)
        completions = []
        for prompt in prompts:
            text = "\n".join(m.text for m in prompt.messages)
            for needle in self.fail_on:
                if needle in text:
                    raise RuntimeError(f"echo: refusing a prompt containing {needle!r}")
            answer = self.answer(prompt)
            completions.append(
                Completion(
                    answer, input_tokens=len(text.split()), output_tokens=len(answer.split())
                )
            )
        for prompt, completion in zip(prompts, completions, strict=True):
            self._log(prompt, completion, batch=len(prompts))
            self.completed += 1
            if self.interrupt_after and self.completed >= self.interrupt_after:
                os.kill(os.getpid(), signal.SIGINT)
        return completions

    def _log(self, prompt: Prompt, completion: Completion, batch: int) -> None:
        if not self.config.log:
            return
        fingerprint = json.dumps(prompt.fingerprint(), sort_keys=True)
        line = {
            "pid": os.getpid(),
            "model": getattr(self.config, "plugin", "echo"),
            "prompt_sha256": hashlib.sha256(fingerprint.encode()).hexdigest(),
            "prompt": prompt.messages[-1].text,
            "images": [p.media_type for p in prompt.images],
            "answer": completion.text,
            "batch": batch,
        }
        with open(self.config.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


class EchoVision(Echo):
    """Like ``echo``, and accepts images (their media type and digest appear in the answer)."""

    accepts_images = True


@dataclass
class KeywordConfig:
    min_length: int = 5
    api_key: str | None = None
    """Unused; there so tests can check that eicore writes a secret field nowhere."""


class Keyword(Judge):
    """A trigger is recalled when any of its words of ``min_length``+ letters is in the answer."""

    config: KeywordConfig

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        said = set(key_words(answer, self.config.min_length))
        matched = tuple(
            i
            for i, trigger in enumerate(sample.triggers)
            if said & set(key_words(trigger, self.config.min_length))
        )
        total = len(sample.triggers)
        trigger_words = set().union(
            *(key_words(t, self.config.min_length) for t in sample.triggers)
        )
        lines = [line for line in answer.splitlines() if key_words(line, 1)]
        return Judgment(
            judge=self.name,
            recalled=len(matched),
            total=total,
            raw=f"{{score: {len(matched)}/{total}}}",
            matched=matched,
            triggers=tuple(
                TriggerVerdict("matched" if i in matched else "missed") for i in range(total)
            ),
            items=tuple(
                AnswerItem(line, bool(trigger_words & set(key_words(line, self.config.min_length))))
                for line in lines
            ),
        )


@dataclass
class GraderConfig:
    bias: str = "none"
    """``none``: a trigger is matched when one of its key words is in the answer; ``first``:
    also always credits the first trigger listed; ``length``: also credits one more trigger for
    every ``per_words`` words of answer."""
    per_words: int = 25
    min_length: int = 5
    log: str | None = None
    """Append one JSON line per prompt graded to this file."""


def _section(text: str, head: str) -> list[str]:
    """The numbered lines after the line starting with ``head``, up to the next blank line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(head)), None)
    out: list[str] = []
    for line in lines[start + 1 :] if start is not None else []:
        if not line.strip():
            break
        out.append(re.sub(r"^\d+\.\s*", "", line))
    return out


class Grader(Model):
    """A scripted judging model for the ``llm`` judge's per-trigger prompt, with a known bias:
    reads the numbered triggers and answer items and replies with per-trigger JSON."""

    config: GraderConfig

    def grade(self, text: str) -> str:
        triggers = _section(text, "Ground-truth emotional triggers")
        items = _section(text, "Answer to grade")
        said = set(key_words(" ".join(items), self.config.min_length))
        matched = [bool(said & set(key_words(t, self.config.min_length))) for t in triggers]
        if self.config.bias == "first" and matched:
            matched[0] = True
        if self.config.bias == "length":
            extra = len(" ".join(items).split()) // self.config.per_words
            for i, hit in enumerate(matched):
                if not hit and extra:
                    matched[i], extra = True, extra - 1
        words = set().union(*(key_words(t, self.config.min_length) for t in triggers))
        reply = {
            "triggers": [
                {"n": i, "verdict": "matched" if hit else "missed", "span": ""}
                for i, hit in enumerate(matched, start=1)
            ],
            "items": [
                {"n": i, "supported": bool(words & set(key_words(item, self.config.min_length)))}
                for i, item in enumerate(items, start=1)
            ],
        }
        return "Verdicts:\n" + json.dumps(reply)

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        texts = ["\n".join(m.text for m in p.messages) for p in prompts]
        if self.config.log:
            with open(self.config.log, "a", encoding="utf-8") as f:
                f.writelines(json.dumps({"prompt": t}) + "\n" for t in texts)
        return [Completion(self.grade(t)) for t in texts]


@hookimpl
def eicore_register_models(register):  # type: ignore[no-untyped-def]
    register("echo", Echo, EchoConfig)
    register("echo-vision", EchoVision, EchoConfig)
    register("scripted", ScriptedModel, ScriptedConfig)
    register("grader", Grader, GraderConfig)


@hookimpl
def eicore_register_judges(register):  # type: ignore[no-untyped-def]
    register("keyword", Keyword, KeywordConfig)
