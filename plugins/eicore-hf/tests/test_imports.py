"""Discovery, ``eicore --help``, ``eicore plugins`` and a run with another model never import
torch or transformers (together ~5 s and ~375 MB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "transformers")

SCRIPT = """
import json, runpy, sys
import eicore

HEAVY = {heavy!r}
seen = {{}}

def step(name, argv=None):
    if argv is not None:
        sys.argv = ["eicore", *argv]
        runpy.run_module("eicore", run_name="__main__")
    seen[name] = sorted(m for m in HEAVY if m in sys.modules)

assert eicore.registered("model")["hf"].plugin == "hf"
step("registry")
step("help", ["--help"])
step("plugins", ["plugins"])
step("compose hf config", ["run", "--cfg", "job", "model=hf", "model.path=/models/llava"])
step("run with another model", ["run", "model=light", "model.vision=false", "~judge",
     "metrics=[]", "data.root={eibench}", "data.limit=3", "run.root={runs}",
     "run.progress=false"])
print("SEEN " + json.dumps(seen))
"""

# A model without heavy dependencies, installed as a plugin (its entry point on the path) for the
# test's processes only.
LIGHT_PLUGIN = """
from eicore import hookimpl
from eicore.testing.scripted import ScriptedConfig, ScriptedModel

@hookimpl
def eicore_register_models(register):
    register("light", ScriptedModel, ScriptedConfig)
"""


def test_discovery_cli_and_other_runs_stay_light(eibench_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "light_plugin.py").write_text(LIGHT_PLUGIN)
    dist_info = tmp_path / "light_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: light-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[eicore]\nlight = light_plugin\n")
    script = SCRIPT.format(heavy=HEAVY, eibench=eibench_dir, runs=tmp_path / "runs")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "EICORE_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("SEEN ")]
    seen = json.loads(line.removeprefix("SEEN "))
    assert list(seen) == [
        "registry",
        "help",
        "plugins",
        "compose hf config",
        "run with another model",
    ]
    assert all(imported == [] for imported in seen.values()), seen
    assert "    model     hf" in result.stdout  # `eicore plugins` listed it
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert len((run_dir / "predictions.jsonl").read_text().splitlines()) == 3
