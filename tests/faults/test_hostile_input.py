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

from eicore.datasets.images import ImageError, read
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
    from eicore.datasets import images

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

    from eicore.log import finish as finishing

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the viewer")

    monkeypatch.setattr(finishing, "write_report", broken)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        finishing.finish(tmp_path, [], complete=True, metrics=[], judges=[], config=None)
    finally:
        logger.remove(sink)
    assert read_json(tmp_path / "metrics.json")["n_samples"] == 0
    assert any("report.html not written: RuntimeError: a bug in the viewer" in w for w in warnings)


# -- 10: text no file can hold ------------------------------------------------------------------
def test_a_lone_surrogate_is_refused_at_load_with_file_and_line(tmp_path: Path) -> None:
    from eicore.datasets.samples import DataError, load_basic, load_complex

    questions = tmp_path / "user.jsonl"
    questions.write_text('{"x/sad/1.png": "Why sad?"}\n{"x/sad/2.png": "Why \\ud800 sad?"}\n')
    truth = tmp_path / "truth.json"
    truth.write_text('{\n"x/sad/1.png": "1. Rain",\n"x/sad/2.png": "1. Rain"\n}\n')
    with pytest.raises(DataError, match="lone surrogate") as err:
        load_basic(questions, truth)
    assert str(err.value).startswith(f"{questions}, line 2:")
    questions.write_text('{"x/sad/1.png": "Why sad?"}\n{"x/sad/2.png": "Why so sad?"}\n')
    truth.write_text('{\n"x/sad/1.png": "1. Rain",\n"x/sad/2.png": "1. \\udfff Rain"\n}\n')
    with pytest.raises(DataError, match="lone surrogate") as err:
        load_basic(questions, truth)
    assert str(err.value).startswith(f"{truth}, line 3:")
    truth.write_text('{"x/sad/1.png": "1. Rain \\ud83d\\ude00", "x/sad/2.png": "1. Rain"}')
    assert load_basic(questions, truth)[0].triggers == ("Rain \U0001f600",)  # a pair is fine
    complex_file = tmp_path / "ec_complex.jsonl"
    complex_file.write_text('{"y/1.png": {"Why \\udc00?": "1. Rain"}}\n')
    with pytest.raises(DataError, match=f"{complex_file}, line 1: .*lone surrogate"):
        load_complex(complex_file)


def test_a_run_on_text_with_a_lone_surrogate_stops_before_any_call(
    cli: CLI, tmp_path: Path
) -> None:
    questions = tmp_path / "user.jsonl"
    questions.write_text('{"x/sad/1.png": "Why is she \\ud800 sad?"}\n')
    truth = tmp_path / "truth.json"
    truth.write_text('{"x/sad/1.png": "1. Rain"}')
    log = tmp_path / "echo.log"
    args = (
        "model=echo", "judge=keyword", "metrics=[trigger_recall]", f"data.questions={questions}",
        f"data.ground_truth={truth}", f"run.root={tmp_path / 'runs'}", f"model.log={log}",
    )  # fmt: skip
    for _ in range(2):  # the rerun says the same: nothing was poisoned
        result = cli.run(*args, expect=2)
        assert f"{questions}, line 1: text 'Why is she \\ud800 sad?' holds a lone surrogate" in (
            result.stderr
        ), result.stderr
        assert "Traceback" not in result.stderr and not log.exists()


# -- 11: selections that would silently change what is measured --------------------------------
def test_a_negative_limit_and_a_repeated_id_are_refused(eibench_dir: Path) -> None:
    from eicore.datasets.samples import DataConfig, DataError, load_basic, select

    samples = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    with pytest.raises(DataError, match=r"data.limit=-1: give a number of samples, 0 or more"):
        select(samples, DataConfig(limit=-1))
    ids = [samples[0].id, samples[1].id, samples[0].id]
    with pytest.raises(DataError, match=r"data.ids: \['.*'\] given more than once"):
        select(samples, DataConfig(ids=ids))
    with pytest.raises(DataError) as err:
        select(samples, DataConfig(emotions=["Angry"]))
    assert "no samples with emotion ['Angry']; this data has happy, angry, sad, excited" in str(
        err.value
    )


def test_folders_outside_the_four_emotions_are_reported(tmp_path: Path) -> None:
    from loguru import logger

    from eicore.datasets.samples import load_basic

    images = ["x/angry/1.png", "x/neutral/2.png", "x/neutral/3.png", "4.png"]
    questions = tmp_path / "user.jsonl"
    questions.write_text("".join(json.dumps({i: f"Why {n}?"}) + "\n" for n, i in enumerate(images)))
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(dict.fromkeys(images, "1. Rain")))
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        samples = load_basic(questions, truth)
    finally:
        logger.remove(sink)
    assert [s.emotion for s in samples] == ["angry", "neutral", "neutral", None]
    (warning,) = warnings
    assert f"{questions}: emotions other than EIBench's happy, angry, sad, excited: " in warning
    assert "'neutral' (2); each is an emotion of its own in the by-emotion recall and in Macro" in (
        warning
    )
    assert "1 images in no folder have no emotion: Overall only" in warning


@pytest.mark.parametrize(
    ("truth", "triggers"),
    [
        ("1. A fist. 2. A shout.", ("A fist.", "A shout.")),
        ("1) A fist 2) A shout 3) Tears", ("A fist", "A shout", "Tears")),
        ("(1) A fist (2) A shout", ("A fist", "A shout")),
        ("2 - A fist\n3 - A shout", ("A fist", "A shout")),
        ("(3) A fist\n(4) A shout", ("A fist", "A shout")),
        ("1: A fist", ("A fist",)),
        (
            "1. A 3-year-old crying\n2. 2 people arguing",
            ("A 3-year-old crying", "2 people arguing"),
        ),
    ],
)
def test_numbering_of_every_common_shape_is_split_and_stripped(
    truth: str, triggers: tuple[str, ...]
) -> None:
    from eicore.datasets.samples import parse_triggers

    assert parse_triggers(truth) == triggers


# -- 16: calls made by a killed process --------------------------------------------------------
class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no except clause catches a BaseException)."""


def test_a_call_made_by_a_killed_process_is_counted_as_made_by_the_rerun(tmp_path: Path) -> None:
    """The first process makes the call and caches its answer, then dies before the sample is
    saved; the rerun answers from the cache, and counts that call as made (the run paid for it),
    once: a third run changes nothing."""
    import asyncio

    from eicore.log import usage_of
    from eicore.plugins import registry
    from eicore.run.calls import ModelClient
    from eicore.run.loop import Components, Progress, run_samples
    from eicore.run.store import CallCache, RunStore
    from eicore.testing.scripted import ScriptedConfig, ScriptedModel
    from eicore.types import Sample

    class DiesBeforeSaving(RunStore):
        def put(self, *args: object, **kwargs: object) -> None:
            raise Killed

    sample = Sample("x/angry/1.png", "basic", "x/angry/1.png", "Why angry?", ("Fist",), "angry")
    strategy = registry().build("strategy", {"plugin": "direct"})
    model = ScriptedModel(ScriptedConfig(default="1. A raised fist", vision=False))
    cache = CallCache(tmp_path / "calls.sqlite")

    def invocation(store: RunStore) -> ModelClient:
        client = ModelClient(model, cache)
        parts = Components(strategy, {"answerer": client}, [], None)
        try:
            asyncio.run(run_samples([sample], parts, store, 1, Progress(1), show_progress=False))
        finally:
            store.close()
        return client

    def made(store: RunStore) -> int:
        return sum(u.calls_made for u in usage_of(list(store.records().values())).values())

    with pytest.raises(Killed):
        invocation(DiesBeforeSaving(tmp_path / "run"))
    rerun = invocation(RunStore(tmp_path / "run"))
    assert (rerun.calls_made, rerun.calls_cached) == (0, 0)  # this process called nothing
    store = RunStore(tmp_path / "run")
    assert made(store) == 1
    store.close()
    store = RunStore(tmp_path / "run")
    store.db.execute("DELETE FROM records")  # the sample again, as after a failure
    store.close()
    invocation(RunStore(tmp_path / "run"))
    store = RunStore(tmp_path / "run")
    assert made(store) == 0  # counted once, above
    store.close()
    cache.close()
