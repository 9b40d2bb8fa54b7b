"""Hostile input: images that would stall or exhaust a run, text that cannot be written, and
selections that would silently change what a run measures. Each is refused with a message naming
what to fix, or handled and reported; none ends in a traceback."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_test_support import CLI, only_run_dir, read_json, read_jsonl

from eicore.images import ImageError, read
from eicore.viewer.thumbnails import thumbnail_uri

MakeImage = Callable[..., Path]


def png_bomb(path: Path, side: int = 20_000) -> Path:
    """A 1-bit PNG of ``side``×``side`` black pixels: about 48 KB on disk, 400 megapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


# -- 8: decompression bombs ---------------------------------------------------------------------
def test_a_decompression_bomb_is_refused_naming_the_file(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "imgs" / "bomb.png")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(
        ImageError, match=r"too many pixels \(Image size \(400000000 pixels\)"
    ) as err:
        read(tmp_path / "imgs", "bomb.png")
    assert str(bomb) in str(err.value)
    assert thumbnail_uri(tmp_path / "imgs", "bomb.png") is None


def test_an_image_over_eicores_pixel_cap_is_refused(tmp_path: Path) -> None:
    png_bomb(tmp_path / "imgs" / "big.png", side=8_000)  # 64 megapixels: under Pillow's own cap
    with pytest.raises(ImageError, match="8000x8000 pixels is more than 50,000,000"):
        read(tmp_path / "imgs", "big.png")


def test_a_run_with_a_bomb_and_a_fifo_fails_those_samples_and_writes_its_report(
    cli: CLI, tmp_path: Path, make_image: MakeImage
) -> None:
    root = tmp_path / "images"
    make_image(root / "x" / "angry" / "fine.png")
    png_bomb(root / "x" / "angry" / "bomb.png")
    os.mkfifo(root / "x" / "angry" / "fifo.png")  # nobody ever writes to it
    (root / "x" / "angry" / "folder.png").mkdir()
    images = ["x/angry/fine.png", "x/angry/bomb.png", "x/angry/fifo.png", "x/angry/folder.png"]
    questions = tmp_path / "user.jsonl"
    questions.write_text(
        "".join(json.dumps({p: f"Why is person {i} angry?"}) + "\n" for i, p in enumerate(images))
    )
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(dict.fromkeys(images, "1. A raised fist")))
    args = (
        "model=echo-vision", "judge=keyword", "metrics=[trigger_recall]",
        f"data.questions={questions}", f"data.ground_truth={truth}", f"data.image_root={root}",
        f"run.root={tmp_path / 'runs'}",
    )  # fmt: skip
    for _ in range(2):  # and again: a rerun never ends in a traceback either
        result = cli.run(*args, timeout=90)
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")
    records = {r["sample"]["image"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    assert records["x/angry/fine.png"]["status"] == "answered"
    for image, says in [
        ("x/angry/bomb.png", "decompression bomb"),
        ("x/angry/fifo.png", "not a regular file"),
        ("x/angry/folder.png", "a folder"),
    ]:
        record = records[image]
        assert (record["status"], record["error_type"]) == ("failed", "ImageError"), record
        assert str(root / image) in record["error"] and says in record["error"], record
    assert (run_dir / "report.html").stat().st_size > 0


# -- 9: only regular files, with a size cap -----------------------------------------------------
def test_a_fifo_is_refused_without_reading_it(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    os.mkfifo(tmp_path / "imgs" / "pipe.png")
    with pytest.raises(ImageError, match="not a regular file") as err:
        read(tmp_path / "imgs", "pipe.png")  # returns at once: no writer is ever waited for
    assert "pipe.png" in str(err.value)


def test_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(ImageError, match="escapes"):  # a symlink out of the root
        read(tmp_path / "imgs", "zero.png")
    with pytest.raises(ImageError, match="not a regular file"):
        read("/dev", "zero")  # endless bytes: refused before a single read


def test_an_image_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    from eicore import images

    (tmp_path / "imgs").mkdir()
    big = tmp_path / "imgs" / "big.png"
    with big.open("wb") as f:
        f.truncate(images.MAX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ImageError, match="larger than 64 MB") as err:
        read(tmp_path / "imgs", "big.png")
    assert str(big) in str(err.value)


def test_the_report_is_written_even_when_building_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing in the report path can cost a run its results: metrics and records are written,
    the failure is a warning."""
    from loguru import logger

    from eicore import outputs

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the viewer")

    monkeypatch.setattr(outputs, "write_report", broken)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        outputs.write_run(tmp_path, [], {"n_samples": 0}, {})
    finally:
        logger.remove(sink)
    assert read_json(tmp_path / "metrics.json") == {"n_samples": 0}
    assert any("report.html not written: RuntimeError: a bug in the viewer" in w for w in warnings)
