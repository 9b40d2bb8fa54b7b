"""The ``llm`` judge: EIBench's judge done right — any registered model reads the numbered
ground-truth triggers and the answer's numbered items, and says for each trigger whether the
answer matched it (``matched`` / ``partly`` / ``missed``, with the span that matched) and for each
item whether some trigger supports it. Recall, precision and F1 are computed from those verdicts
in code; a ``partly`` trigger counts ``partial_credit`` (0.5 by default) towards recall. With
:data:`SCORE_TEMPLATE` (the paper's form) the judge replies ``{score: correct/total}`` instead.

The run hands the judge its model as the role ``judge:<name>`` (``Judge.asks_model``): calls
are cached, traced in the sample's record and counted and costed like a strategy's. A reply
without a readable verdict is asked again, up to ``max_attempts`` times with exponential
backoff; each attempt is its own cache round, so a re-score replays the same sequence. Then the
judgment is ``unparsed``: excluded from means and counted, never a made-up score.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from string import Template
from typing import Any

from loguru import logger

from eicore import ConfigError, Judge, Judgment, ModelRole, Prompt, Sample
from eicore_metrics.semantic import sentences
from eicore_metrics.verdicts import (
    PARSE_POLICY,
    Verdict,
    answer_items,
    echo_contexts,
    parse_verdict,
)

TEMPLATE = """\
You grade answers about why a person in an image feels an emotion.
$context
Ground-truth emotional triggers ($total):
$triggers

Answer to grade, cut into numbered items:
$items

For each ground-truth trigger, say whether the answer identifies it, in the same or in other \
words: "matched", "partly" (only part of it, or too vaguely) or "missed", with the answer's \
words that match it as "span" ("" when missed). For each answer item, say whether any \
ground-truth trigger supports it. Reply with JSON only, in this shape:
{"triggers": [{"n": 1, "verdict": "matched", "span": "..."}, ...], \
"items": [{"n": 1, "supported": true}, ...]}$format"""

SCORE_TEMPLATE = """\
You grade answers about why a person in an image feels an emotion.
$context
Ground-truth emotional triggers ($total):
$triggers

Answer to grade:
\"\"\"
$answer
\"\"\"

Count how many of the ground-truth triggers the answer identifies, in the same or in other \
words. Triggers the answer adds beyond the list do not count against it. Explain briefly, then \
give your verdict on a last line as {score: correct/total}, with correct the number of \
identified triggers and total $total.$format"""
"""The score-only form (a count, no per-trigger verdicts): the paper presets' shape."""

FORMS = {"triggers": TEMPLATE, "score": SCORE_TEMPLATE}

CONTEXT = """Question asked: $question
Target emotion: $emotion"""

STRUCTURED = """ Then, on its own line, list the numbers of the identified triggers as JSON: \
{"matched": [<numbers>]}."""


@dataclass
class LLMJudgeConfig:
    model: Any = None
    """The judging model's config node: ``+model@judge.model=<name>``. The paper's judges ran at
    temperature 0.1 with 512 new tokens: set those on the model (``judge.model.temperature``)."""
    form: str = "triggers"
    """``triggers``: per-trigger verdicts (:data:`TEMPLATE`); ``score``: a count only, the
    paper's ``{score: k/n}`` (:data:`SCORE_TEMPLATE`). Picks the template when none is given."""
    template: str | None = None
    """``$answer``, ``$items`` (the answer's sentences, numbered), ``$triggers`` (numbered
    lines), ``$total``, ``$context``, ``$format``; None: the template of ``form``."""
    context_template: str = CONTEXT
    """Filled into ``$context`` when ``include_question``; ``$question``, ``$emotion``."""
    structured_template: str = STRUCTURED
    """Filled into ``$format`` when ``structured``."""
    include_question: bool = False
    """Show the judge the question and target emotion (the paper's judge saw neither)."""
    structured: bool = False
    """Also ask for the matched trigger numbers as JSON (preferred by the parser when given)."""
    max_attempts: int = 3
    """Replies without a verdict are asked again up to this many attempts in all."""
    backoff_s: float = 1.0
    """Wait before attempt i+1: ``backoff_s * 2**(i-1)`` (not for replies from the cache)."""
    partial_credit: float = 0.5
    """What a ``partly`` trigger counts towards recall (``matched`` 1, ``missed`` 0): half, as
    a judge that says "partly" has seen half the evidence; 0 counts only full matches."""


def numbered(triggers: tuple[str, ...]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(triggers, start=1))


class LLMJudge(Judge):
    """Trigger recall as a language model judges it."""

    config: LLMJudgeConfig
    asks_model = True

    @property
    def name(self) -> str:
        return str(getattr(self.config, "plugin", "llm"))

    @property
    def template(self) -> str:
        """The prompt template: the config's, else its form's."""
        c = self.config
        if c.template is not None:
            return c.template
        if c.form not in FORMS:
            raise ConfigError(f"judge {self.name}: form {c.form!r}; choose {' or '.join(FORMS)}")
        return FORMS[c.form]

    def template_sha256(self) -> str:
        """Digest of every template that shapes the prompt (with the switches that pick them)."""
        c = self.config
        parts = [self.template, c.context_template if c.include_question else "",
                 c.structured_template if c.structured else ""]  # fmt: skip
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "plugin": self.name,
            "prompt_template_sha256": self.template_sha256(),
            "form": c.form if c.template is None else "custom template",
            "include_question": c.include_question,
            "structured": c.structured,
            "max_attempts": c.max_attempts,
            "backoff_s": c.backoff_s,
            "parse_policy": PARSE_POLICY,
            "partial_credit": c.partial_credit,
        }

    def prompt_text(self, sample: Sample, answer: str) -> str:
        c = self.config
        context = ""
        if c.include_question:
            emotion = sample.emotion or "(not given)"
            context = Template(c.context_template).substitute(
                question=sample.question, emotion=emotion
            )
        return Template(self.template).substitute(
            answer=answer,
            items=numbered(tuple(sentences(answer))) or "1. (empty)",
            triggers=numbered(sample.triggers),
            total=len(sample.triggers),
            context=context,
            format=c.structured_template if c.structured else "",
        )

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        if model is None:
            raise ValueError(f"judge {self.name!r} asks a model: give it its model role")
        text = self.prompt_text(sample, answer)
        contexts = echo_contexts(text)
        total = len(sample.triggers)
        replies: list[str] = []
        for attempt in range(max(1, self.config.max_attempts)):
            completion = await model.complete(Prompt.user(text), round=attempt)
            cached = getattr(model, "last_cached", False)  # eicore's roles tell; no wait then
            replies.append(completion.text)
            verdict = parse_verdict(completion.text, total, contexts)
            if verdict is not None:
                return self._judgment(sample, answer, verdict, completion.text, attempt)
            if attempt + 1 < self.config.max_attempts and not cached:
                await asyncio.sleep(self.config.backoff_s * 2**attempt)
        logger.debug("judge {}: no verdict for {} in {} tries", self.name, sample.id, len(replies))
        raw = "\n".join(f"--- attempt {i} ---\n{r}" for i, r in enumerate(replies, start=1))
        return Judgment(self.name, None, total, "unparsed", raw)

    def _judgment(
        self, sample: Sample, answer: str, verdict: Verdict, reply: str, attempt: int
    ) -> Judgment:
        total = len(sample.triggers)
        notes = list(verdict.notes)
        if attempt:
            notes.append(f"verdict on attempt {attempt + 1}")
        if verdict.stated_total is not None and verdict.stated_total != total:
            stated = verdict.stated_total
            notes.append(f"judge stated total {stated}, the sample has {total} triggers")
        recalled = verdict.recalled
        if recalled > total:
            logger.warning(
                "judge {}: {} recalled of {} triggers on {}; clipped",
                self.name, recalled, total, sample.id,
            )  # fmt: skip
            notes.append(f"correct {recalled} clipped to {total}")
            recalled = total
        raw = reply + "".join(f"\n[eicore] {n}" for n in notes)
        if verdict.form != "triggers":
            return Judgment(self.name, recalled, total, "ok", raw, verdict.matched)
        partly = sum(t.verdict == "partly" for t in verdict.triggers)
        return Judgment(
            self.name, recalled, total, "ok", raw, verdict.matched,
            triggers=verdict.triggers,
            items=answer_items(sentences(answer), verdict.supported),
            credit=recalled + self.config.partial_credit * partly if partly else None,
        )  # fmt: skip
