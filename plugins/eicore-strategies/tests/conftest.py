"""Offline settings, and a cast of fake model roles for driving strategies directly.

A strategy sees its models only through :class:`eicore.ModelRole` (``accepts_images`` and
``async complete(prompt, *, round)``). The fakes here implement exactly that: each records the
prompts it receives — in its own list, in one log shared by the whole cast (so the order of calls
across roles is visible), and as :class:`eicore.Call` rows in a trace shaped like the one the core
keeps — and answers from a script (the first key found in the prompt's text, else a default).
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eicore import Call, Completion, ImagePart, Prompt, Response, Sample, SampleRecord, Strategy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@dataclass
class Seen:
    """One prompt as a fake role received it."""

    role: str
    round: int
    prompt: Prompt

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.prompt.messages)

    @property
    def images(self) -> list[str]:
        return [i.sha256 for i in self.prompt.images]


@dataclass
class FakeRole:
    """A :class:`eicore.ModelRole` that answers from a script and records what it got."""

    name: str
    log: list[Seen]
    trace: list[Call]
    accepts_images: bool = True
    replies: Mapping[str, str] = field(default_factory=dict)
    """Substring of the prompt's text → reply; the first key found (in order) answers."""
    default: str | Callable[[str], str] | None = None
    """The reply when no key matches: a string, a function of the prompt's last line, or
    (None) ``"<name> reply <n>"``, distinct for every call."""
    seen: list[Seen] = field(default_factory=list)

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion:
        await asyncio.sleep(0)  # a real role yields to the event loop
        entry = Seen(self.name, round, prompt)
        self.seen.append(entry)
        self.log.append(entry)
        text = entry.text
        reply = next((r for k, r in self.replies.items() if k in text), None)
        if reply is None:
            if callable(self.default):
                lines = [line for line in text.splitlines() if line.strip()]
                reply = self.default(lines[-1] if lines else "")
            elif self.default is not None:
                reply = self.default
            else:
                reply = f"{self.name} reply {len(self.seen)}"
        completion = Completion(reply, finish_reason="stop")
        self.trace.append(Call(self.name, round, prompt.fingerprint(), completion, False))
        return completion


class Cast:
    """The fake roles of one test, a shared log of their calls and a shared trace."""

    def __init__(self) -> None:
        self.log: list[Seen] = []
        self.trace: list[Call] = []
        self.roles: dict[str, FakeRole] = {}

    def role(self, name: str, *, vision: bool = True, **script: Any) -> FakeRole:
        """A new fake role, cast as ``name`` (use :meth:`also` to give it more role names)."""
        fake = FakeRole(name, self.log, self.trace, accepts_images=vision, **script)
        self.roles[name] = fake
        return fake

    def also(self, name: str, fake: FakeRole) -> None:
        """Cast the same fake model in another role (one model playing several roles)."""
        self.roles[name] = fake

    def answer(self, strategy: Strategy, sample: Sample, image: ImagePart | None) -> str:
        return asyncio.run(strategy.answer(sample, image, self.roles))

    def record(self, sample: Sample, answer: str) -> SampleRecord:
        """The record the core would keep for this sample; the log and trace start afresh."""
        record = SampleRecord(sample, "answered", Response(answer, tuple(self.trace)))
        self.trace.clear()
        self.log.clear()
        return record

    @property
    def calls(self) -> list[tuple[str, int]]:
        return [(s.role, s.round) for s in self.log]


@pytest.fixture
def cast() -> Cast:
    return Cast()


def png(color: tuple[int, int, int] = (200, 40, 40), format: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, format=format)
    return buffer.getvalue()


@pytest.fixture
def image() -> ImagePart:
    """A real (tiny) PNG, as the core hands it to a strategy."""
    return ImagePart(path=Path("CAER-S/train/Angry/0006.png"), data=png(), media_type="image/png")


@pytest.fixture
def make_sample() -> Callable[..., Sample]:
    def make(
        image: str = "CAER-S/train/Angry/0006.png",
        question: str = "Why is the man in the grey suit shouting at the waiter?",
        emotion: str | None = "angry",
        id: str | None = None,
    ) -> Sample:
        return Sample(id or image, "basic", image, question, ("a spilled drink",), emotion)

    return make


@pytest.fixture
def sample(make_sample: Callable[..., Sample]) -> Sample:
    return make_sample()
