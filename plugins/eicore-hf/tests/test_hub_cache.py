"""A hub id already in the local hub cache loads offline, pinned to the commit it resolves to."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"

SCRIPT = """
import json
from eicore import Prompt
from eicore_hf.config import HFConfig
from eicore_hf.model import hf_model

model = hf_model(HFConfig(path="tiny-org/tiny-llava", max_new_tokens=4))
(completion,) = model.generate_blocking([Prompt.user("Why?")])
print(json.dumps({"source": str(model.source), "identity": model.identity(),
                  "finish": completion.finish_reason}))
"""


def test_hub_id_from_the_local_cache(
    tiny_llava: Path, tmp_path: Path, child_env: dict[str, str]
) -> None:
    repo = tmp_path / "hub" / "models--tiny-org--tiny-llava"
    shutil.copytree(tiny_llava, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    env = {**child_env, "HF_HUB_CACHE": str(tmp_path / "hub")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["source"] == f"tiny-org/tiny-llava@{COMMIT}"
    assert out["identity"]["files"] == f"hub:{COMMIT}"
    assert out["identity"]["kind"] == "vision"
    assert out["finish"] in {"stop", "length"}
