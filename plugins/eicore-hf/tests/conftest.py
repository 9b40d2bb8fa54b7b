"""Offline settings, tiny models saved to disk, EIBench annotations and synthetic images.

The tiny models are real transformers models (LLaVA, Llama) randomly initialised from config
and saved with ``save_pretrained`` (:mod:`eicore_hf.tiny`); the plugin loads them from disk.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Before anything imports huggingface_hub, which reads these once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

REPO = Path(__file__).resolve().parents[3]
EIBENCH_FILES = ("user.jsonl", "basic_ground_truth.json")
SYNTHETIC_IMAGES = 8
"""Images made for the first samples of EIBench basic (the real ones are not redistributable)."""


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; torch's default pool (a thread per core) spins
    against other processes on a shared machine and slowed these tests several-fold."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment for a subprocess: this one's (offline), torch on one thread."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eicore_hf.tiny import build_llava

    return build_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eicore_hf.tiny import build_llama

    return build_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def eibench_dir() -> Path:
    """``$EICORE_TEST_DATA``, else ``../shared/eibench`` beside the repository; skip if absent."""
    override = os.environ.get("EICORE_TEST_DATA")
    path = Path(override).expanduser() if override else REPO.parent / "shared" / "eibench"
    missing = [name for name in EIBENCH_FILES if not (path / name).is_file()]
    if missing:
        pytest.skip(
            f"EIBench annotations not found in {path} (missing {missing}); set EICORE_TEST_DATA"
        )
    return path.resolve()


@pytest.fixture(scope="session")
def image_root(eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic images at the relative paths of the first samples of EIBench basic."""
    root = tmp_path_factory.mktemp("images")
    lines = (eibench_dir / "user.jsonl").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines[:SYNTHETIC_IMAGES]):
        (relative,) = json.loads(line)
        write_image(root / relative, n)
    return root


def synthetic_image(n: int) -> Any:
    """A small RGB image whose size and colour differ for each ``n``."""
    from PIL import Image

    return Image.new("RGB", (40 + 9 * n, 30 + 5 * n), (37 * n % 256, 200 - 20 * n, 90))


def write_image(path: Path, n: int) -> Path:
    """:func:`synthetic_image` saved as PNG or JPEG after the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    synthetic_image(n).save(path, "PNG" if path.suffix.lower() == ".png" else "JPEG")
    return path


@pytest.fixture(scope="session")
def image_part() -> Callable[[int], Any]:
    """``image_part(n)``: an :class:`eicore.ImagePart` holding ``synthetic_image(n)`` as PNG."""
    from eicore import ImagePart

    def make(n: int) -> ImagePart:
        buffer = io.BytesIO()
        synthetic_image(n).save(buffer, "PNG")
        return ImagePart(Path(f"synthetic-{n}.png"), buffer.getvalue(), "image/png")

    return make
