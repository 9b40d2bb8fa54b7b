"""The paper-* strategies against the original baseline scripts: each prompt equals the
script's own f-string evaluated on the question (the f-string is taken from the line eicore says
it read, by text, and evaluated here — not through eicore's extraction)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from eicore_strategies.paper import OURS, PaperPrompt, PaperPromptConfig

from eicore import PROMPTS, Completion, ConfigError, Prompt, Sample, answer_prompt

CODE = Path(__file__).resolve().parents[3] / ".." / "shared" / "eibench-code"
pytestmark = pytest.mark.skipif(not (CODE / "SHA256SUMS").is_file(), reason="no eibench-code")

QUESTION = 'What made the Man in the blue shirt ANGRY? "'


def original(name: str, question: str) -> str:
    """The script's f-string on the line eicore reports, evaluated on ``question``."""
    place, variable = PROMPTS[name]
    source = answer_prompt(name, str(CODE)).source
    file, line = source.split(" ")[0].rsplit(":", 1)
    text = (CODE / file).read_text(encoding="utf-8").splitlines()[int(line) - 1]
    literal = re.search(r"""f(["']).*\1""", text.split("#", 1)[-1] if place.commented else text)
    assert literal is not None, text
    return str(eval(literal.group(0), {}, {variable: question}))  # noqa: S307 - the pinned script


class Recorder:
    accepts_images = False

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion:
        self.prompts.append(prompt)
        return Completion("  1. a raised fist  ")


def asked(config: PaperPromptConfig, split: str = "basic") -> tuple[str, str]:
    sample = Sample("x", split, "x/Angry/1.png", QUESTION, ("t",), "angry")
    model = Recorder()
    answer = asyncio.run(PaperPrompt(config).answer(sample, None, {"answerer": model}))
    return model.prompts[0].messages[-1].text, answer


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_each_prompt_is_the_scripts_own(name: str) -> None:
    """Every script prompt, reached by its setting: ``<family>[-cot][-complex]``."""
    family = name.removesuffix("-complex").removesuffix("-cot")
    split = "complex" if name.endswith("-complex") else "basic"
    config = PaperPromptConfig(prompt=family, cot=name.endswith("-cot"), paper_root=str(CODE))
    text, answer = asked(config, split)
    assert text == original(name, QUESTION)
    assert answer == "1. a raised fist"


def test_the_wordings_differ_where_the_scripts_do() -> None:
    texts = {name: original(name, QUESTION) for name in PROMPTS}
    cot, complex_ = (
        ["base", "llava", "minigpt-v2", "otter"],
        ["llava", "minigpt-v2", "qwen-vl-plus"],
    )
    settings = {
        *cot,
        "qwen-vl-plus",
        *(f"{f}-cot" for f in cot),
        *(f"{f}-complex" for f in complex_),
    }
    assert set(texts) == settings  # the scripts' twelve settings, each tested above
    assert texts["qwen-vl-plus"].endswith(QUESTION.lower())  # lower-cased
    assert texts["otter"].endswith(QUESTION.lower())
    assert texts["llava"] == texts["base"] + "."
    assert texts["base-cot"].startswith(texts["base"] + " ")
    assert texts["minigpt-v2"] != texts["base"]
    assert texts["llava-complex"] == texts["base"]  # the complex LLaVA script has no "."
    assert texts["minigpt-v2-complex"] == texts["minigpt-v2"]
    assert texts["qwen-vl-plus-complex"] == texts["qwen-vl-plus"] + "."


def test_the_personas_of_the_ablation() -> None:
    paper, _ = asked(PaperPromptConfig(paper_root=str(CODE)))
    persona, rest = paper.split(". ", 1)
    none, _ = asked(PaperPromptConfig(persona="none", paper_root=str(CODE)))
    assert none == rest
    for key, sentence in OURS.items():
        text, _ = asked(PaperPromptConfig(persona=key, paper_root=str(CODE)))
        assert text == (f"{sentence} {rest}" if sentence else rest)
    assert "emotion" in persona and "architecture" in OURS["architecture_expert"]
    described = PaperPrompt(PaperPromptConfig(persona="assistant", paper_root=str(CODE)))
    assert described.describe()["persona_source"].startswith("eicore")


def test_a_family_without_a_cot_script_is_refused() -> None:
    with pytest.raises(Exception, match="no chain-of-thought prompt for 'qwen-vl-plus'"):
        PaperPrompt(PaperPromptConfig(prompt="qwen-vl-plus", cot=True, paper_root=str(CODE)))
    with pytest.raises(ConfigError, match="strategy.prompt='gpt'"):
        PaperPrompt(PaperPromptConfig(prompt="gpt", paper_root=str(CODE)))


def test_a_changed_script_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "EIBench" / "baselines" / "qwen"
    copy.mkdir(parents=True)
    original_text = (CODE / "EIBench/baselines/qwen/qwen_user.py").read_text(encoding="utf-8")
    (copy / "qwen_user.py").write_text(original_text + "\n# edited\n", encoding="utf-8")
    with pytest.raises(Exception, match="is not the pinned"):
        asked(PaperPromptConfig(paper_root=str(tmp_path)))
