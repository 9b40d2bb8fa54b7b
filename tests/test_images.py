"""Images: media type from the bytes, clear errors, no escaping the image root, and a run where
one image is missing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

from eicore.datasets.images import ImageError, read, resolve

MakeImage = Callable[..., Path]


@pytest.mark.parametrize(
    ("name", "fmt", "media_type"),
    [
        ("a.png", "PNG", "image/png"),
        ("b.jpg", "JPEG", "image/jpeg"),
        ("c.gif", "GIF", "image/gif"),
        ("d.webp", "WEBP", "image/webp"),
        # the name lies; the bytes decide
        ("png-named.jpg", "PNG", "image/png"),
        ("jpeg-named.png", "JPEG", "image/jpeg"),
        ("no-extension", "JPEG", "image/jpeg"),
    ],
)
def test_media_type_comes_from_the_bytes(
    tmp_path: Path, make_image: MakeImage, name: str, fmt: str, media_type: str
) -> None:
    path = make_image(tmp_path / "imgs" / "sub" / name, format=fmt)
    part = read(tmp_path / "imgs", f"sub/{name}")
    assert part.media_type == media_type
    assert part.data == path.read_bytes()
    assert part.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert part.path == path.resolve()


def test_missing_image_names_the_path_and_the_setting(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    with pytest.raises(ImageError) as err:
        read(tmp_path / "imgs", "CAER-S/train/Angry/0006.png")
    message = str(err.value)
    assert str(tmp_path / "imgs" / "CAER-S/train/Angry/0006.png") in message
    assert "data.image_root" in message


def test_no_image_root_names_the_setting() -> None:
    with pytest.raises(ImageError, match="data.image_root"):
        read(None, "CAER-S/train/Angry/0006.png")


@pytest.mark.parametrize(
    "relative", ["../outside.png", "sub/../../outside.png", "sub/../../imgs-evil/x.png"]
)
def test_traversal_is_refused(tmp_path: Path, make_image: MakeImage, relative: str) -> None:
    make_image(tmp_path / "outside.png")
    make_image(tmp_path / "imgs-evil" / "x.png")  # a sibling whose name starts like the root's
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    with pytest.raises(ImageError, match="escapes"):
        read(tmp_path / "imgs", relative)


def test_inner_dotdot_that_stays_inside_is_fine(tmp_path: Path, make_image: MakeImage) -> None:
    make_image(tmp_path / "imgs" / "a" / "x.png")
    (tmp_path / "imgs" / "b").mkdir()
    assert read(tmp_path / "imgs", "b/../a/x.png").media_type == "image/png"


def test_absolute_path_is_refused(tmp_path: Path, make_image: MakeImage) -> None:
    inside = make_image(tmp_path / "imgs" / "x.png")
    with pytest.raises(ImageError, match="absolute"):
        read(tmp_path / "imgs", str(inside))  # refused even though it points inside the root


def test_symlink_out_of_the_root_is_refused(tmp_path: Path, make_image: MakeImage) -> None:
    secret = make_image(tmp_path / "elsewhere" / "secret.png")
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    os.symlink(secret, tmp_path / "imgs" / "sub" / "link.png")
    os.symlink(tmp_path / "elsewhere", tmp_path / "imgs" / "dirlink")
    with pytest.raises(ImageError, match="escapes"):
        read(tmp_path / "imgs", "sub/link.png")
    with pytest.raises(ImageError, match="escapes"):
        read(tmp_path / "imgs", "dirlink/secret.png")


def test_symlinks_inside_the_root_and_a_symlinked_root_are_fine(
    tmp_path: Path, make_image: MakeImage
) -> None:
    make_image(tmp_path / "real" / "a.png")
    os.symlink(tmp_path / "real" / "a.png", tmp_path / "real" / "b.png")
    os.symlink(tmp_path / "real", tmp_path / "root-link")
    assert read(tmp_path / "root-link", "b.png").media_type == "image/png"
    assert resolve(tmp_path / "root-link", "a.png") == (tmp_path / "real" / "a.png").resolve()


def test_not_an_image(tmp_path: Path, make_image: MakeImage) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "fake.png").write_bytes(b"this is not a picture\n" * 10)
    with pytest.raises(ImageError, match="not a usable image") as err:
        read(tmp_path / "imgs", "fake.png")
    assert "fake.png" in str(err.value)
    (tmp_path / "imgs" / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty.jpg"):
        read(tmp_path / "imgs", "empty.jpg")


def test_truncated_image(tmp_path: Path, make_image: MakeImage) -> None:
    path = make_image(tmp_path / "imgs" / "cut.png", size=(64, 64))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageError, match="cut.png"):
        read(tmp_path / "imgs", "cut.png")


def test_unsupported_format(tmp_path: Path, make_image: MakeImage) -> None:
    make_image(tmp_path / "imgs" / "old.bmp", format="BMP")
    with pytest.raises(ImageError, match="BMP"):
        read(tmp_path / "imgs", "old.bmp")


def test_a_directory_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "imgs" / "folder.png").mkdir(parents=True)
    with pytest.raises(ImageError, match="folder.png"):
        read(tmp_path / "imgs", "folder.png")


# -- end to end -----------------------------------------------------------------------------------
def test_run_with_one_missing_image(
    cli: CLI, eibench_dir: Path, tmp_path: Path, make_image: MakeImage
) -> None:
    lines = read_jsonl(eibench_dir / "user.jsonl")[:6]
    paths = [next(iter(row)) for row in lines]
    root = tmp_path / "images"
    missing = paths[2]
    for i, relative in enumerate(paths):
        if relative != missing:
            # one CAER-S ".png" that is really a JPEG: the model must be told image/jpeg
            make_image(root / relative, format="JPEG" if i == 4 else "PNG", color=(10 * i, 99, 7))
    args = echo_args(
        eibench_dir,
        tmp_path / "runs",
        "data.limit=6",
        f"data.image_root={root}",
        model="echo-vision",
    )
    cli.run(*args)  # exit 0: a missing image fails its sample, not the run
    run_dir = only_run_dir(tmp_path / "runs")

    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_samples"] == 6 and metrics["n_failed"] == 1 and metrics["n_answered"] == 5
    assert metrics["errors"] == {"ImageError": 1}
    assert metrics["recall"]["n_scored"] == 5  # the failed sample is not scored
    records = {r["sample"]["id"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    failed = records[missing]
    assert failed["status"] == "failed" and failed["error_type"] == "ImageError"
    assert missing in failed["error"] and "data.image_root" in failed["error"]
    assert failed["judgments"] == [] and failed["response"]["trace"] == []

    predictions = {k: v for p in read_jsonl(run_dir / "predictions.jsonl") for k, v in p.items()}
    assert set(predictions) == set(paths) and predictions[missing] == ""  # one line per sample
    for i, relative in enumerate(paths):
        if relative == missing:
            continue
        data = (root / relative).read_bytes()
        media = "image/jpeg" if i == 4 else "image/png"
        # echo-vision states what it was sent: the media type and the digest of these bytes
        assert f"[image {media} {hashlib.sha256(data).hexdigest()[:12]}]" in predictions[relative]
        (call,) = records[relative]["response"]["trace"]
        image_parts = [p for m in call["prompt"] for p in m["parts"] if "image_sha256" in p]
        assert image_parts == [{"image_sha256": hashlib.sha256(data).hexdigest()}]


def test_a_text_only_model_needs_no_images(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    cli.run(
        *echo_args(
            eibench_dir, tmp_path / "runs", "data.limit=2", f"data.image_root={tmp_path / 'none'}"
        )
    )
    metrics = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    assert metrics["n_failed"] == 0 and metrics["n_answered"] == 2


def test_a_vision_model_without_an_image_root_fails_before_any_call(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    result = cli.run(
        *echo_args(
            eibench_dir, tmp_path / "runs", "data.limit=2", f"model.log={log}", model="echo-vision"
        ),
        expect=None,
    )
    assert result.returncode == 2 and "data.image_root" in result.stderr
    assert "Traceback" not in result.stderr
    # Hydra makes the (empty) run folder before eicore starts; nothing is written into it
    assert not log.exists() and not [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
