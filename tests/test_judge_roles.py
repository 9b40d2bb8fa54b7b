"""The core's side of a judge that asks a model (the ``llm`` judge of eicore-metrics): the run
records the identity of the judge's model, and a judge given no model fails before any call."""

from __future__ import annotations

import json

import pytest
from eicore_metrics.llm import LLMJudge, LLMJudgeConfig

from eicore import ConfigError, build
from eicore.run.calls import ModelClient
from eicore.run.judges import describe_judges, judge_clients
from eicore.testing.scripted import ScriptedConfig, ScriptedModel


def test_describe_records_the_judges_model_template_and_policy() -> None:
    judge = LLMJudge(LLMJudgeConfig())
    client = ModelClient(ScriptedModel(ScriptedConfig()), None)
    (described,) = describe_judges([judge], {"judge:llm": client})
    assert described["model"]["plugin"] == "ScriptedModel"
    assert len(described["prompt_template_sha256"]) == 64
    assert "last" in described["parse_policy"] and described["include_question"] is False
    json.dumps(described)


def test_a_judge_without_a_model_fails_clearly() -> None:
    judge = build("judge", {"plugin": "llm"})
    with pytest.raises(ConfigError, match=r"\+model@judge.model"):
        judge_clients([judge], None)
