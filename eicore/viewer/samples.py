"""The viewer's per-sample data: each sample once, with every run's answer, judgments and trace
(the strategy's calls, then the judges')."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eicore.types import Call, Judgment, SampleRecord


def prompt_text(prompt: list[dict[str, Any]]) -> list[dict[str, str]]:
    """A traced prompt as ``{role, text}`` messages; an image part reads ``[image <digest>]``."""
    messages = []
    for message in prompt:
        parts = [
            p["text"] if "text" in p else f"[image {str(p.get('image_sha256', ''))[:12]}]"
            for p in message.get("parts", [])
        ]
        messages.append({"role": str(message.get("role", "")), "text": "\n".join(parts)})
    return messages


def call_entry(call: Call) -> dict[str, Any]:
    c = call.completion
    return {
        "role": call.role,
        "round": call.round,
        "cached": call.cached,
        "prompt": prompt_text(call.prompt),
        "completion": c.text,
        "tokens": [c.input_tokens, c.output_tokens],
        "latency": round(c.latency_s, 3),
    }


def judgment_entry(judgment: Judgment) -> dict[str, Any]:
    return {
        "judge": judgment.judge,
        "recalled": judgment.recalled,
        "total": judgment.total,
        "status": judgment.status,
        "score": judgment.score,
        "raw": judgment.raw,
        "matched": list(judgment.matched),
        "precision": judgment.precision,
        "triggers": [{"verdict": t.verdict, "span": t.span} for t in judgment.triggers],
        "items": [{"text": i.text, "supported": i.supported} for i in judgment.items],
    }


def result_entry(record: SampleRecord) -> dict[str, Any]:
    """One run's outcome on one sample."""
    response = record.response
    return {
        "status": record.status,
        "answer": response.text if response else None,
        "error": f"{record.error_type}: {record.error}" if record.error_type else record.error,
        "judgments": [judgment_entry(j) for j in record.judgments],
        "trace": [call_entry(c) for c in record.calls],
    }


def sample_entries(runs: Sequence[Sequence[SampleRecord]]) -> list[dict[str, Any]]:
    """Every sample of ``runs`` once, in first-seen order, with ``results[i]`` the outcome of
    run ``i`` (None where that run has no record of it)."""
    entries: dict[str, dict[str, Any]] = {}
    for index, records in enumerate(runs):
        for record in records:
            s = record.sample
            entry = entries.get(s.id)
            if entry is None:
                entry = entries[s.id] = {
                    "id": s.id,
                    "image": s.image,
                    "question": s.question,
                    "emotion": s.emotion,
                    "triggers": list(s.triggers),
                    "flags": list(s.flags),
                    "thumb": None,
                    "results": [None] * len(runs),
                }
            entry["results"][index] = result_entry(record)
    return list(entries.values())
