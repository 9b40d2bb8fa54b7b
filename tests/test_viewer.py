"""The run viewer without a browser: report.html's content and size, the `eicore view` server's
image containment and review endpoints, and reviewers' agreement (Krippendorff's alpha)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import random
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from eicore_test_support import CLI, echo_args, read_json, read_jsonl

from eicore import cohen_kappa
from eicore.datasets.images import MAX_BYTES
from eicore.datasets.samples import load_basic
from eicore.log import Recall
from eicore.log import read as read_log
from eicore.report.run_tables import recall_row
from eicore.testing.runs import synthetic_images
from eicore.types import Call, Completion, Judgment, Response, SampleRecord
from eicore.viewer import write_report
from eicore.viewer.agreement import agreement, krippendorff_alpha, ratings_files, read_ratings
from eicore.viewer.commands import agreement_command, view
from eicore.viewer.page import decode_payload
from eicore.viewer.runs import ViewerError, load_records
from eicore.viewer.samples import sample_entries
from eicore.viewer.server import ViewerServer, report_site, review_site
from eicore.viewer.thumbnails import ThumbnailProcess, thumbnail_uri, thumbnail_uris

N = 6


@dataclass(frozen=True)
class Runs:
    direct: Path
    cfsa: Path
    images: Path


@pytest.fixture(scope="module")
def runs(echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Two real runs on EIBench's first samples, with synthetic images: echo-vision answering
    directly, and echo through CFSA (a many-call trace)."""
    base = tmp_path_factory.mktemp("viewer")
    images = base / "images"
    synthetic_images(eibench_dir, images, limit=N)
    cli = CLI([echo_site], base / "cache", base)
    common = [f"data.limit={N}", f"data.image_root={images}"]
    cli.run(*echo_args(eibench_dir, base / "runs", *common, model="echo-vision"))
    cli.run(*echo_args(eibench_dir, base / "runs", *common, "strategy=cfsa"))
    found = {p.name.split("__")[1]: p for p in (base / "runs").iterdir()}
    return Runs(found["direct"], found["cfsa"], images)


def page_of(path: Path) -> tuple[str, dict]:
    html = path.read_text(encoding="utf-8")
    return html, decode_payload(html)


def test_every_run_writes_a_self_contained_report(runs: Runs) -> None:
    for run_dir in (runs.direct, runs.cfsa):
        html, data = page_of(run_dir / "report.html")
        assert not re.search(r"https?://", html), "report.html must not reference the network"
        assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:|#)[a-z]""", html, re.I)
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        records = load_records(run_dir)
        assert [s["id"] for s in data["samples"]] == [r.sample.id for r in records]
        metrics = read_json(run_dir / "metrics.json")
        (row,) = data["summary"]
        assert row["cells"] == recall_row(Recall.from_dict(metrics["recall"]))
        assert row["judge"] == "keyword"
        assert row["n_scored"] == N and row["ci"] == metrics["recall"]["ci"]
        for sample, record in zip(data["samples"], records, strict=True):
            (result,) = sample["results"]
            assert sample["triggers"] == list(record.sample.triggers)
            assert result["answer"] == record.response.text
            (judgment,) = result["judgments"]
            assert judgment["matched"] == list(record.judgments[0].matched)
            assert judgment["score"] == record.judgments[0].score
            assert [(c["role"], c["round"]) for c in result["trace"]] == [
                (c.role, c.round) for c in record.response.trace
            ]
            assert result["trace"][-1]["completion"] == record.response.trace[-1].completion.text
    # the CFSA run shows every round; the direct one its single call, with the image marked
    _, cfsa = page_of(runs.cfsa / "report.html")
    assert {c["role"] for c in cfsa["samples"][0]["results"][0]["trace"]} == {
        "planner",
        "answerer",
        "summarizer",
    }
    _, direct = page_of(runs.direct / "report.html")
    parts = direct["samples"][0]["results"][0]["trace"][0]["prompt"][-1]["text"]
    assert re.search(r"\[image [0-9a-f]{12}\]", parts)


def test_thumbnails_are_small_jpegs_of_the_images(runs: Runs) -> None:
    from PIL import Image

    _, data = page_of(runs.direct / "report.html")
    for sample in data["samples"]:
        prefix = "data:image/jpeg;base64,"
        assert sample["thumb"].startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(sample["thumb"][len(prefix) :]))) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 128
            with Image.open(runs.images / sample["image"]) as original:
                assert thumb.size == original.size  # 16×12 stays 16×12: never enlarged


def test_the_thumbnail_process_makes_what_the_report_would(runs: Runs) -> None:
    """A run's thumbnails come from a process of their own (made while the run goes on), in a
    session of its own (a Ctrl-C at the terminal does not reach it): the same URIs as made in
    process, None for an image that is missing or would leave the root."""
    images = sorted(str(p.relative_to(runs.images)) for p in runs.images.rglob("*.*"))
    wanted = [*images, "missing.jpg", "../outside.jpg"]
    made = ThumbnailProcess(runs.images, wanted)
    assert os.getsid(made._process.pid) != os.getsid(0)
    uris = made.uris()
    assert made._process.returncode == 0
    assert uris == thumbnail_uris(runs.images, wanted)
    assert all(uris[i] for i in images) and uris["missing.jpg"] is uris["../outside.jpg"] is None


def test_the_report_makes_what_the_thumbnail_process_did_not(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eicore.run import threads

    log = read_log(runs.direct)
    first, *rest = [s["image"] for s in sample_entries([log.samples])]
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the process fails: nothing made
    failed = ThumbnailProcess(runs.images, [first, *rest])
    assert failed.uris() == {}
    write_report(tmp_path, [log], {first: "data:image/jpeg;base64,made"})
    thumbs = {s["image"]: s["thumb"] for s in page_of(tmp_path / "report.html")[1]["samples"]}
    assert thumbs[first] == "data:image/jpeg;base64,made"  # what was made is not made again
    assert all(thumbs[r] == thumbnail_uri(runs.images, r) for r in rest)
    monkeypatch.setattr(threads._Policy, "explicit", 1)  # run.threads=1: no CPU to spare
    assert ThumbnailProcess.start(runs.images, rest) is None
    assert ThumbnailProcess.start(None, rest) is None


def test_the_thumbnail_process_stops_when_its_run_is_gone(
    runs: Runs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from eicore.viewer import thumbnails

    images = [str(p.relative_to(runs.images)) for p in runs.images.rglob("*.*")]
    parents = iter([100, 100, 1])  # killed after the first chunk: adopted by init
    monkeypatch.setattr(thumbnails.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(thumbnails.os, "nice", lambda increment: 0)
    monkeypatch.setattr(thumbnails, "CHUNK", 1)
    monkeypatch.setattr(sys, "argv", ["thumbnails", str(runs.images)])
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(images)))
    thumbnails.main()
    assert capsys.readouterr().out == ""  # nothing is written for a run that cannot read it


def test_two_runs_on_the_same_samples_share_one_entry_each(runs: Runs, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (30, 20), (10, 200, 10)).save(tmp_path / "recall_by_emotion.png")
    path = write_report(tmp_path, [runs.direct, runs.cfsa])
    html, data = page_of(path)
    assert not re.search(r"https?://", html)
    assert [r["label"] for r in data["runs"]] == [
        "echo-vision / direct / basic",
        "echo / cfsa / basic",
    ]
    assert [r["run"] for r in data["summary"]] == [r["label"] for r in data["runs"]]
    assert len(data["samples"]) == N
    assert all(None not in s["results"] for s in data["samples"])
    (plot,) = data["plots"]
    assert plot["name"] == "recall_by_emotion"
    assert (
        base64.b64decode(plot["uri"].split(",", 1)[1])
        == (tmp_path / "recall_by_emotion.png").read_bytes()
    )


def synthetic_records(eibench_dir: Path) -> list[SampleRecord]:
    """A record per EIBench basic sample, as a one-call direct run with a judge would leave it."""
    records = []
    for n, sample in enumerate(
        load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    ):
        answer = "\n".join(f"{i}. {t}" for i, t in enumerate(sample.triggers[::2], 1))
        prompt = [
            {"role": "system", "parts": [{"text": "You are an emotion expert."}]},
            {"role": "user", "parts": [{"image_sha256": f"{n:064x}"}, {"text": sample.question}]},
        ]
        call = Call("answerer", 1, prompt, Completion(answer, 80, 40, 1.2, "stop"), False)
        matched = tuple(range(0, len(sample.triggers), 2))
        raw = f"{{score: {len(matched)}/{len(sample.triggers)}}}"
        judgment = Judgment("semantic", len(matched), len(sample.triggers), "ok", raw, matched)
        records.append(SampleRecord(sample, "answered", Response(answer, (call,)), (judgment,)))
    return records


def test_a_full_basic_run_report_stays_small(eibench_dir: Path, tmp_path: Path) -> None:
    from eicore.log.finish import finish

    records = synthetic_records(eibench_dir)
    assert len(records) == 1615
    finish(tmp_path, records, complete=True, metrics=[], judges=[], config=None)
    size = (tmp_path / "report.html").stat().st_size
    print(f"report.html for 1,615 samples with one-call traces: {size / 1e6:.2f} MB")
    assert size < 1_500_000
    data = decode_payload((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert len(data["samples"]) == 1615 and data["samples"][-1]["results"][0]["trace"]


def test_a_malformed_record_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text('{"sample": {}}\n', encoding="utf-8")
    with pytest.raises(ViewerError, match=r"records\.jsonl, line 1: not a sample record"):
        write_report(tmp_path, [tmp_path])
    (tmp_path / "records.jsonl").write_text("\n{not json}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"records\.jsonl, line 2: malformed JSON"):
        write_report(tmp_path, [tmp_path])
    with pytest.raises(ViewerError, match="not a run directory"):
        write_report(tmp_path, [tmp_path / "nowhere"])


# --- the server ------------------------------------------------------------------------------


@pytest.fixture
def serve() -> Iterator[Callable[..., ViewerServer]]:
    started: list[ViewerServer] = []

    def start(site: object) -> ViewerServer:
        server = ViewerServer(site, 0)  # type: ignore[arg-type]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def request(
    server: ViewerServer,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """A raw request: the path goes out exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    payload = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=payload, headers=sent)
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


def test_the_server_serves_images_only_from_inside_the_root(
    runs: Runs, tmp_path: Path, serve: Callable[..., ViewerServer]
) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes((runs.images / "CAER-S/train/Angry/0006.png").read_bytes())
    (runs.images / "escape.png").symlink_to(outside)
    (runs.images / "notes.txt").write_text("not an image", encoding="utf-8")
    server = serve(report_site([runs.direct, runs.cfsa], None))
    assert server.url.startswith("http://127.0.0.1:")

    status, body = request(server, "GET", "/")
    data = decode_payload(body.decode())
    assert status == 200 and data["imageBase"] == "/image/" and len(data["runs"]) == 2
    assert all(s["thumb"] is None for s in data["samples"])  # full-size images come from /image/

    image = "CAER-S/train/Angry/0007.png"
    assert request(server, "GET", f"/image/{image}") == (200, (runs.images / image).read_bytes())
    assert request(server, "GET", "/image/CAER-S/train/Angry/0007%2Epng")[0] == 200
    refused = {
        "/image/../secret.png": 403,
        "/image/CAER-S/../../secret.png": 403,
        "/image/%2e%2e/secret.png": 403,
        "/image/..%2Fsecret.png": 403,
        f"/image/{outside}": 403,  # absolute
        f"/image/%2F{str(outside).lstrip('/')}": 403,
        "/image/escape.png": 403,  # a symlink out of the root
        "/image/notes.txt": 404,  # not an image
        "/image/CAER-S/none.png": 404,
        "/records.jsonl": 404,
    }
    for path, expected in refused.items():
        status, body = request(server, "GET", path)
        assert status == expected, (path, status, body)
        assert body != outside.read_bytes()
    assert request(server, "POST", "/api/review", {"image": image})[0] == 404  # not review mode


def test_the_server_reads_only_regular_files_of_a_sane_size(
    runs: Runs, serve: Callable[..., ViewerServer]
) -> None:
    """A FIFO opened to be read blocks until something writes to it: read, it would hang the
    request (and its thread) for good. The server reads through the core's image reader."""
    fifo, huge = runs.images / "pipe.png", runs.images / "huge.png"
    os.mkfifo(fifo)
    with huge.open("wb") as sparse:
        sparse.truncate(MAX_BYTES + 1)
    try:
        server = serve(report_site([runs.direct], None))
        for name in ("pipe.png", "huge.png"):
            status, body = request(server, "GET", f"/image/{name}")  # a hang fails it: timeout
            assert (status, b"a regular file of at most 64 MB" in body) == (404, True), name
        image = runs.images / "CAER-S/train/Angry/0007.png"  # the server still serves
        assert request(server, "GET", "/image/CAER-S/train/Angry/0007.png") == (
            200, image.read_bytes()
        )  # fmt: skip
    finally:
        fifo.unlink()
        huge.unlink()


def annotate_run(cli: CLI, tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    folder = tmp_path / "imgs"
    make_image(folder / "anger" / "a.jpg", format="JPEG")
    make_image(folder / "joy" / "b.png", color=(240, 220, 40))
    cli("annotate", "model=echo", f"data.image_root={folder}", f"run.root={tmp_path / 'ann'}",
        "run.progress=false")  # fmt: skip
    (run_dir,) = (tmp_path / "ann").iterdir()
    return run_dir


def test_review_saves_refined_ground_truth_and_ratings(
    cli: CLI, tmp_path: Path, make_image: Callable[..., Path], serve: Callable[..., ViewerServer]
) -> None:
    run_dir = annotate_run(cli, tmp_path, make_image)
    machine = read_json(run_dir / "basic_ground_truth.json")
    server = serve(review_site(run_dir, "alice", None))
    status, body = request(server, "GET", "/")
    data = decode_payload(body.decode())
    assert status == 200 and data["mode"] == "review" and data["reviewer"] == "alice"
    assert [i["image"] for i in data["items"]] == ["anger/a.jpg", "joy/b.png"]
    assert all(i["saved"] is None for i in data["items"])  # nothing preselected
    assert len(data["items"][0]["trace"]) == 11 and data["items"][0]["phases"]["general"]
    assert request(server, "GET", "/image/joy/b.png")[0] == 200  # the run's data.image_root
    token = {"X-Eicore-Token": data["token"]}  # what the page sends with every save

    bad = {
        "rating": ({"image": "anger/a.jpg", "triggers": ["x"], "rating": 6}, "rating must be"),
        "bool": ({"image": "anger/a.jpg", "triggers": ["x"], "rating": True}, "rating must be"),
        "float": ({"image": "anger/a.jpg", "triggers": ["x"], "rating": 4.0}, "rating must be"),
        "missing": ({"image": "anger/a.jpg", "triggers": ["x"]}, "rating must be"),
        "image": ({"image": "../x.png", "triggers": ["x"], "rating": 3}, "unknown image"),
        "triggers": ({"image": "anger/a.jpg", "triggers": "x", "rating": 3}, "list of strings"),
    }
    for name, (payload, message) in bad.items():
        status, body = request(server, "POST", "/api/review", payload, token)
        assert status == 400 and message in body.decode(), name
    assert not (run_dir / "reviews").exists()

    edited = {"image": "joy/b.png", "triggers": ["a kite", "  friends\nlaughing ", ""], "rating": 4}
    status, body = request(server, "POST", "/api/review", edited, token)
    assert status == 200, body
    assert json.loads(body) == {
        "saved": {"triggers": ["a kite", "friends laughing"], "rating": 4},
        "reviewed": 1,
    }
    folder = run_dir / "reviews" / "alice"
    assert read_json(folder / "basic_ground_truth.json") == {
        "joy/b.png": "1. a kite\n2. friends laughing"
    }
    assert read_jsonl(folder / "ratings.jsonl") == [
        {"image": "joy/b.png", "reviewer": "alice", "rating": 4}
    ]
    # every trigger deleted: the image leaves the refined data, its rating stays
    status, _ = request(
        server, "POST", "/api/review", {"image": "anger/a.jpg", "triggers": [], "rating": 0}, token
    )
    assert status == 200
    assert [r["rating"] for r in read_jsonl(folder / "ratings.jsonl")] == [0, 4]  # the run's order
    samples = load_basic(folder / "user.jsonl", folder / "basic_ground_truth.json")
    assert [(s.image, s.triggers) for s in samples] == [
        ("joy/b.png", ("a kite", "friends laughing"))
    ]
    assert read_json(run_dir / "basic_ground_truth.json") == machine  # the original is untouched
    assert not list(folder.glob("*.part"))
    # reopening shows what alice saved
    data = decode_payload(request(server, "GET", "/")[1].decode())
    assert [i["saved"] for i in data["items"]] == [
        {"triggers": [], "rating": 0},
        {"triggers": ["a kite", "friends laughing"], "rating": 4},
    ]


def test_view_refuses_bad_input_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        view([str(tmp_path), "--port", "0"])
    assert exit_.value.code == 2
    assert f"{tmp_path}: not a run directory" in capsys.readouterr().err
    (tmp_path / "records.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(SystemExit):
        view([str(tmp_path), "--review", "--reviewer", "../bob", "--port", "0"])
    assert "reviewer name '../bob'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        view([str(tmp_path), "--review", "--reviewer", "bob", "--port", "0"])
    assert "not an `eicore annotate` run (missing user.jsonl, basic_ground_truth.json)" in (
        capsys.readouterr().err
    )


# --- agreement -------------------------------------------------------------------------------


def reference_alpha(units: list[list[float | None]], level: str) -> float:
    matrix = np.array([[np.nan if v is None else v for v in u] for u in units]).T
    return float(
        krippendorff.alpha(
            reliability_data=matrix, level_of_measurement=level, value_domain=list(range(6))
        )
    )


def test_cohen_kappa_matches_scikit_learn_and_is_none_when_undefined() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(5)
    x = [rng.choice("abc") for _ in range(200)]
    y = [v if rng.random() < 0.7 else rng.choice("abc") for v in x]
    assert cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1], [1, 1]) is None  # chance agreement is total
    with pytest.raises(ValueError):
        cohen_kappa([1, 0], [1])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_krippendorff_alpha_matches_the_reference_package(level: str) -> None:
    rng = random.Random(7)
    for _ in range(30):
        coders, n_units = rng.randint(2, 5), rng.randint(3, 40)
        skew = rng.choice([[0, 1, 2, 3, 4, 5], [3, 4, 4, 5, 5, 5], [0, 0, 5, 5]])
        units = [
            [rng.choice(skew) if rng.random() < 0.8 else None for _ in range(coders)]
            for _ in range(n_units)
        ]
        observed = [[v for v in u if v is not None] for u in units]
        if len({v for u in observed if len(u) > 1 for v in u}) < 2:
            continue
        assert krippendorff_alpha(observed, level) == pytest.approx(
            reference_alpha(units, level), abs=1e-9
        )  # type: ignore[arg-type]


def test_alpha_edge_cases() -> None:
    assert krippendorff_alpha([[3, 3], [5, 5], [0, 0]], "ordinal") == pytest.approx(1.0)
    assert krippendorff_alpha([[4, 4], [4, 4]], "ordinal") is None  # no variation: undefined
    assert krippendorff_alpha([[1], [2], [3]], "ordinal") is None  # nothing pairable


def write_ratings(folder: Path, reviewer: str, ratings: dict[str, int]) -> Path:
    path = folder / "reviews" / reviewer / "ratings.jsonl"
    path.parent.mkdir(parents=True)
    rows = [{"image": i, "reviewer": reviewer, "rating": r} for i, r in ratings.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_agreement_of_three_reviewers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ratings = {
        "alice": {"a.png": 5, "b.png": 3, "c.png": 0, "d.png": 4, "e.png": 2},
        "bob": {"a.png": 4, "b.png": 3, "c.png": 1, "d.png": 4},
        "carol": {"a.png": 5, "c.png": 0, "e.png": 3, "f.png": 1},  # f.png: rated once, unused
    }
    for reviewer, given in ratings.items():
        write_ratings(tmp_path, reviewer, given)
    images = ["a.png", "b.png", "c.png", "d.png", "e.png"]
    units = [[ratings[r].get(i) for r in sorted(ratings)] for i in images]
    result = agreement(read_ratings(ratings_files([tmp_path])))
    assert (
        result.n_images == 6
        and result.n_shared == 5
        and result.reviewers == ["alice", "bob", "carol"]
    )
    assert result.alpha_ordinal == pytest.approx(reference_alpha(units, "ordinal"))
    assert result.alpha_interval == pytest.approx(reference_alpha(units, "interval"))
    assert result.ratings_histogram["bob"] == {0: 0, 1: 1, 2: 0, 3: 1, 4: 2, 5: 0}

    agreement_command([str(tmp_path)])
    printed = capsys.readouterr().out
    assert f"Krippendorff's alpha (ordinal): {result.alpha_ordinal:.3f}" in printed
    assert read_json(tmp_path / "reviews" / "agreement.json")["n_shared"] == 5
    assert (tmp_path / "reviews" / "agreement.md").read_text(encoding="utf-8") == printed.rstrip(
        "\n"
    ) + "\n"


def test_agreement_refuses_bad_ratings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_ratings(tmp_path, "alice", {"a.png": 5})
    path.write_text(path.read_text() + '{"image": "b.png", "reviewer": "alice", "rating": 5.0}\n')
    with pytest.raises(SystemExit) as exit_:
        agreement_command([str(path)])
    assert exit_.value.code == 2
    assert f"{path}, line 2: rating must be an integer 0–5, got 5.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        agreement_command([str(tmp_path / "elsewhere")])
    assert "no ratings found" in capsys.readouterr().err
