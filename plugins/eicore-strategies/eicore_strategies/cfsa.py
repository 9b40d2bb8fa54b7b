"""CFSA, Coarse-to-Fine Self-Ask: the paper's annotation pipeline, run as a strategy.

Roles: ``planner`` (a text LLM), ``answerer`` (the VLM under evaluation) and ``summarizer``;
any role not given its own model uses ``model``, so one VLM can play all three. Phases, each
recorded in the trace with its number as the call's round:

1. the planner enriches the question; 2. the VLM grounds it in the image;
3. general self-ask: the VLM answers each generic question;
4. scenario self-ask: the VLM poses follow-up questions, then 5. answers each;
6. the summarizer condenses everything into a numbered trigger list (the answer).

The paper's ground truth came from this same pipeline, so CFSA's scores are flagged in
metrics.json. The paper published no CFSA prompts: these are eicore's, all of them config.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eicore import ImagePart, ModelRole, Sample, SampleRecord, Strategy
from eicore_strategies.turns import ask, numbered

ENRICH, GROUND, GENERAL, POSE, SCENARIO, SUMMARY = 1, 2, 3, 4, 5, 6
_LISTED = re.compile(r"^\s*(?:\d+\s*[.)]|[-*•])\s*(.+)$")


@dataclass
class CFSAConfig:
    enrich_prompt: str = (
        'A user asks about an image: "{question}"\n'
        "Rewrite the question so that it asks for the specific causes of the person's emotion: "
        "what they see, do or experience, their expression and posture, the people around them "
        "and the wider context. Reply with the rewritten question only."
    )
    ground_prompt: str = (
        "Look at the image. Rewrite this question so that it names the specific person and "
        "situation in the image. Reply with the question only.\nQuestion: {enriched}"
    )
    general_questions: list[str] = field(
        default_factory=lambda: [
            "How many people are in the image, and where are they?",
            "What activity or interaction is taking place?",
            "What is the facial expression of the person the question is about?",
            "What is the body posture or gesture of the person the question is about?",
        ]
    )
    answer_prompt: str = "Look at the image and answer briefly.\n{question}"
    """How the VLM is asked each general and scenario question."""
    scenario_count: int = 3
    pose_prompt: str = (
        "Look at the image. You are finding out: {grounded}\nWhat you know so far:\n{facts}\n"
        "Ask {count} short follow-up questions about this image whose answers would reveal what "
        "caused the emotion. Reply with a numbered list of questions only."
    )
    summary_prompt: str = (
        "Question: {grounded}\nObservations about the image:\n{facts}\n"
        "List the triggers of the person's emotion (objects, interactions, facial expression, "
        "posture, atmosphere, social context or events) as a numbered list of short phrases, "
        "most important first. Reply with the list only."
    )
    emit_annotations: bool = False
    """Also write user.jsonl and basic_ground_truth.json (what ``eicore annotate`` sets)."""


@dataclass(frozen=True)
class Steps:
    """What one CFSA pass found, decoded from a response's trace."""

    enriched: str
    grounded: str
    general: list[tuple[str, str]]
    scenario: list[tuple[str, str]]
    summary: str


def listed_items(reply: str) -> list[str]:
    """The items of a numbered or bulleted list in ``reply`` (its plain lines if it has none);
    a preamble such as "Here are the triggers:" is not an item."""
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    listed = [m[1].strip() for line in lines if (m := _LISTED.match(line))]
    return listed or lines


def posed_questions(reply: str, count: int) -> list[str]:
    """Up to ``count`` questions from the VLM's list."""
    return listed_items(reply)[:count]


def facts(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"- {q} {a}" for q, a in pairs)


class CFSA(Strategy):
    roles = ("planner", "answerer", "summarizer")
    config: CFSAConfig

    def describe(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.config),
            "note": "EIBench's ground truth was made with CFSA: scores are not comparable with "
            "other strategies' without that caveat",
        }

    def needs_image(self, models: Mapping[str, ModelRole]) -> bool:
        """Only the answerer (the VLM) is shown the image."""
        return models["answerer"].accepts_images

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        c = self.config
        vlm = models["answerer"]
        enriched = await ask(
            models["planner"], c.enrich_prompt.format(question=sample.question), round=ENRICH
        )
        grounded = await ask(vlm, c.ground_prompt.format(enriched=enriched), image, round=GROUND)
        known = [
            (q, await ask(vlm, c.answer_prompt.format(question=q), image, round=GENERAL))
            for q in c.general_questions
        ]
        posed = await ask(
            vlm,
            c.pose_prompt.format(grounded=grounded, facts=facts(known), count=c.scenario_count),
            image,
            round=POSE,
        )
        for q in posed_questions(posed, c.scenario_count):
            known.append(
                (q, await ask(vlm, c.answer_prompt.format(question=q), image, round=SCENARIO))
            )
        summary = await ask(
            models["summarizer"],
            c.summary_prompt.format(grounded=grounded, facts=facts(known)),
            round=SUMMARY,
        )
        return numbered(listed_items(summary))

    def steps(self, record: SampleRecord) -> Steps | None:
        """The phases of one answered record, read back from its trace."""
        if record.status != "answered" or record.response is None:
            return None
        by_round: dict[int, list[str]] = {}
        for call in record.response.trace:
            by_round.setdefault(call.round, []).append(call.completion.text.strip())
        general = by_round.get(GENERAL, [])
        posed = posed_questions(by_round.get(POSE, [""])[0], self.config.scenario_count)
        return Steps(
            enriched=by_round.get(ENRICH, [""])[0],
            grounded=by_round.get(GROUND, [""])[0],
            general=list(zip(self.config.general_questions, general, strict=True)),
            scenario=list(zip(posed, by_round.get(SCENARIO, []), strict=True)),
            summary=record.response.text,
        )

    def artifacts(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        """cfsa_review.jsonl (every phase and the full trace per sample), and with
        ``emit_annotations`` the EIBench-shaped user.jsonl and basic_ground_truth.json."""
        review, questions, truth = [], [], {}
        for record in records:
            steps = self.steps(record)
            if steps is None:
                continue
            assert record.response is not None
            review.append(
                {
                    "id": record.sample.id,
                    "image": record.sample.image,
                    "emotion": record.sample.emotion,
                    "question": record.sample.question,
                    **dataclasses.asdict(steps),
                    "trace": [dataclasses.asdict(call) for call in record.response.trace],
                }
            )
            questions.append({record.sample.image: steps.grounded})
            truth[record.sample.image] = steps.summary
        files: dict[str, Any] = {"cfsa_review.jsonl": review}
        if self.config.emit_annotations:
            files |= {"user.jsonl": questions, "basic_ground_truth.json": truth}
        return files
