"""The paper-* judge presets against the original judge scripts.

The original request is rebuilt by executing only the original file's prompt-building statements
(found with ``ast``) on each answer and ground truth — never by importing the script (it loads a
model or an API client at start) — and compared byte for byte with the request eicore sends.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from eicore_metrics.paper_judges import FALLBACK_FLAG, PaperJudge
from eicore_openai.messages import chat_request
from omegaconf import OmegaConf

from eicore import Completion, Prompt, Sample
from eicore.datasets.eibench import EIBench, EIBenchConfig
from eicore.plugins import config_node_class, registry
from eicore.run.rescore import compose

CODE = Path(__file__).resolve().parents[1] / ".." / "shared" / "eibench-code"
pytestmark = pytest.mark.skipif(not (CODE / "SHA256SUMS").is_file(), reason="no eibench-code")


def original(script: str) -> ast.Module:
    return ast.parse((CODE / script).read_text(encoding="utf-8"))


def function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def assignments(scope: ast.AST, name: str) -> list[ast.Assign]:
    found = [
        n for n in ast.walk(scope)
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets)
    ]  # fmt: skip
    return sorted(found, key=lambda n: n.lineno)


def run_statements(statements: list[ast.Assign], names: dict[str, Any]) -> dict[str, Any]:
    """Execute just these statements of the original, in its order, in ``names``."""
    module = ast.Module(body=list(statements), type_ignores=[])
    exec(compile(module, "<original>", "exec"), {}, names)
    return names


def answer_for(i: int, sample: Sample) -> str:
    """Answers with what tends to break prompt building: quotes, braces, newlines, unicode."""
    shapes = [
        f"1. {sample.question}\n2. “The crowd” {{score: 1/2}} café\n",
        f"The person feels this because of {sample.triggers[0].lower()}",
        '"quoted" \\ back-slash\t\ttabs  ',
    ]
    return shapes[i % len(shapes)]


def judge_for(preset: str, data_root: Path) -> tuple[PaperJudge, Any]:
    cfg = compose([f"judge={preset}", f"paper.root={CODE}", f"data.root={data_root}"])
    judge = registry().build("judge", cfg.judge)
    assert isinstance(judge, PaperJudge)
    return judge, cfg


def model_config(node: Any) -> Any:
    """The judge model's config object, as the model plugin gets it (no client, no key)."""
    reg = registry().get("model", node.plugin)
    given = OmegaConf.to_container(node, resolve=True)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(config_node_class(reg)), given))


def eicore_messages(judge: PaperJudge, model: Any, sample: Sample, answer: str) -> bytes:
    request = chat_request(judge.prompt(sample, answer), model)
    return json.dumps(request["messages"]).encode()


def basic_samples(eibench_dir: Path) -> list[Sample]:
    return EIBench(EIBenchConfig(root=str(eibench_dir))).load()


@pytest.mark.parametrize(
    ("preset", "script", "messages_at"),
    [
        ("paper-gpt", "EIBench/EI_Basic/gpt-eval.py", "ask_chatgpt"),
        ("paper-llama3", "EIBench/EI_Basic/llama3-eval.py", "main"),
    ],
)
def test_every_basic_request_is_byte_identical_to_the_original(
    preset: str, script: str, messages_at: str, eibench_dir: Path
) -> None:
    tree = original(script)
    main = function(tree, "main")
    building = assignments(main, "content")
    assert len(building) == 2  # the instruction, then instruction + record + ground truth
    if messages_at == "main":
        messages_statement = assignments(main, "messages")
    else:  # gpt-eval.py: the messages= argument of client.chat.completions.create
        call = next(
            k.value for k in ast.walk(function(tree, messages_at))
            if isinstance(k, ast.keyword) and k.arg == "messages"
        )  # fmt: skip
        target = ast.Name("messages", ast.Store())
        messages_statement = [ast.fix_missing_locations(ast.Assign([target], call, lineno=1))]
    gt = json.loads((eibench_dir / "basic_ground_truth.json").read_text(encoding="utf-8"))
    samples = basic_samples(eibench_dir)
    assert len(samples) == 1615
    judge, cfg = judge_for(preset, eibench_dir)
    model = model_config(cfg.judge.model)
    for i, sample in enumerate(samples):
        answer = answer_for(i, sample)
        names = run_statements(building, {"data_input": answer, "gt": gt, "img_path": sample.id})
        names["prompt"] = names["content"]
        messages = run_statements(messages_statement, names)["messages"]
        assert eicore_messages(judge, model, sample, answer) == json.dumps(messages).encode(), i


@pytest.mark.parametrize(
    ("preset", "script"),
    [
        ("paper-gpt", "EIBench/EI_Complex/gpt-eval-complex.py"),
        ("paper-llama3", "EIBench/EI_Complex/llama3-eval-complex.py"),
    ],
)
def test_complex_requests_use_the_complex_scripts_words(
    preset: str, script: str, eibench_dir: Path
) -> None:
    main = function(original(script), "main")
    first, framing = assignments(main, "content")
    lines = (eibench_dir / "ec_complex.jsonl").read_text(encoding="utf-8").splitlines()
    samples = EIBench(EIBenchConfig(root=str(eibench_dir), split="complex")).load()
    judge, cfg = judge_for(preset, eibench_dir)
    for i, (line, sample) in enumerate(zip(lines, samples, strict=True)):
        ((image, inner),) = json.loads(line).items()
        ((question, label),) = inner.items()
        assert (image, question) == (sample.image, sample.question)
        answer = answer_for(i, sample)
        content = run_statements([first, framing], {"data_input": answer, "label": label})
        sent = json.loads(eicore_messages(judge, model_config(cfg.judge.model), sample, answer))
        assert sent[1] == {"role": "user", "content": content["content"]}


def literal_keywords(tree: ast.Module, function_name: str, call_attr: str) -> dict[str, Any]:
    call = next(
        n for n in ast.walk(function(tree, function_name))
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == call_attr
    )  # fmt: skip
    return {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}


def test_decoding_and_attempts_are_the_originals(eibench_dir: Path) -> None:
    gpt = original("EIBench/EI_Basic/gpt-eval.py")
    ask = function(gpt, "ask_chatgpt")
    defaults = dict(
        zip([a.arg for a in ask.args.args][-len(ask.args.defaults) :],
            [ast.literal_eval(d) for d in ask.args.defaults], strict=True)
    )  # fmt: skip
    called: dict[str, Any] = {}
    for node in ast.walk(function(gpt, "main")):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ask_chatgpt":
            called = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg == "model"}
    _, cfg = judge_for("paper-gpt", eibench_dir)
    assert cfg.judge.model.temperature == defaults["temperature"] == 0.1
    assert cfg.judge.model.max_tokens == defaults["max_tokens"] == 512
    assert cfg.judge.model.name.startswith(called["model"] + "-0")  # a dated snapshot
    llama = original("EIBench/EI_Basic/llama3-eval.py")
    generate = literal_keywords(llama, "main", "generate")
    _, cfg = judge_for("paper-llama3", eibench_dir)
    model = cfg.judge.model
    assert (model.temperature, model.top_p, model.max_tokens) == (
        generate["temperature"],
        generate["top_p"],
        generate["max_new_tokens"],
    )
    last_try = next(
        n for n in ast.walk(function(llama, "main"))
        if isinstance(n, ast.Compare) and getattr(n.left, "id", None) == "i"
    )  # fmt: skip
    assert cfg.judge.max_attempts == last_try.comparators[0].value + 1 == 5  # type: ignore[attr-defined]


class Replies:
    """A model role replying from a list, one reply per call; records the prompts."""

    accepts_images = False

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.prompts = replies, []  # type: list[str], list[Prompt]

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion:
        self.prompts.append(prompt)
        return Completion(self.replies[len(self.prompts) - 1])


def test_after_the_last_attempt_the_original_fallback_is_a_flag_not_a_zero(
    eibench_dir: Path,
) -> None:
    judge, _ = judge_for("paper-llama3", eibench_dir)
    judge.config.backoff_s = 0.0
    model = Replies(["I cannot tell."] * 5)
    sample = basic_samples(eibench_dir)[0]
    judgment = asyncio.run(judge.judge(sample, "an answer", model))
    assert (judgment.status, judgment.recalled, judgment.score) == ("unparsed", None, None)
    assert len(model.prompts) == 5
    assert f"{FALLBACK_FLAG} llama3-eval.py records '{{score: 0/1}}'" in judgment.raw
    assert judge.describe()["original_after_last_attempt"].startswith("llama3-eval.py records")
    assert judge.describe()["sources"]["system"] == "EIBench/EI_Basic/llama3-eval.py:37"


def test_a_verdict_is_read_and_clipped(eibench_dir: Path) -> None:
    judge, _ = judge_for("paper-gpt", eibench_dir)
    sample = basic_samples(eibench_dir)[0]
    judgment = asyncio.run(judge.judge(sample, "an answer", Replies(["Two match. {score: 2/3}"])))
    assert (judgment.status, judgment.recalled, judgment.total) == ("ok", 2, len(sample.triggers))
