"""EIBench data: loaders on the shared annotation files, subsets, bad input, custom data and the
verified download (from a local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from eicore_test_support import CHEAP, CLI, read_json, read_jsonl
from loguru import logger

from eicore.datasets.eibench import COMMIT, FILES, EIBench, EIBenchConfig
from eicore.datasets.samples import (
    DataConfig,
    DataError,
    load_basic,
    load_complex,
    parse_shard,
    parse_triggers,
    report_defects,
    select,
)
from eicore.types import EMOTIONS, Sample

NUMBERED_ITEM = re.compile(r"(?m)^\s*\d+\s*[.)](.*)$")


# -- the shared EIBench files ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def basic(eibench_dir: Path) -> list[Sample]:
    return load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")


@pytest.fixture(scope="module")
def complex_(eibench_dir: Path) -> list[Sample]:
    return load_complex(eibench_dir / "ec_complex.jsonl")


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Messages loguru emits (WARNING and above) while the test runs."""
    messages: list[str] = []
    handler = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING")
    yield messages
    logger.remove(handler)


def test_the_shared_files_are_the_pinned_release(eibench_dir: Path) -> None:
    for name, (_, digest) in FILES.items():
        assert hashlib.sha256((eibench_dir / name).read_bytes()).hexdigest() == digest, name


def test_basic_counts_per_emotion(basic: list[Sample]) -> None:
    assert len(basic) == 1615
    assert Counter(s.emotion for s in basic) == {
        "angry": 342,
        "happy": 91,
        "sad": 462,
        "excited": 720,
    }
    assert {s.split for s in basic} == {"basic"}
    assert set(EMOTIONS) == {s.emotion for s in basic}


def test_basic_emotion_is_the_source_folder(basic: list[Sample]) -> None:
    folders = {
        "CAER-S/train/Angry": "angry",
        "CAER-S/train/Happy": "happy",
        "EmoSet-118k/image/sadness": "sad",
        "EmoSet-118k/image/excitement": "excited",
    }
    for s in basic:
        assert folders[str(Path(s.image).parent)] == s.emotion, s.image
        assert s.id == s.image  # basic ids are the image paths, one question per image
    assert len({s.id for s in basic}) == len(basic)


def test_basic_samples_match_the_raw_files(basic: list[Sample], eibench_dir: Path) -> None:
    lines = (eibench_dir / "user.jsonl").read_text(encoding="utf-8").splitlines()
    raw = [json.loads(line) for line in lines if line.strip()]
    truth = json.loads((eibench_dir / "basic_ground_truth.json").read_text(encoding="utf-8"))
    assert [s.image for s in basic] == [next(iter(r)) for r in raw]  # file order kept
    assert [s.question for s in basic] == [next(iter(r.values())) for r in raw]
    assert set(truth) == {s.image for s in basic}
    sample = basic[100]
    items = [m.strip() for m in NUMBERED_ITEM.findall(truth[sample.image])]
    assert list(sample.triggers) == [i for i in items if i]


def test_basic_trigger_total_and_range(basic: list[Sample], eibench_dir: Path) -> None:
    truth = json.loads((eibench_dir / "basic_ground_truth.json").read_text(encoding="utf-8"))
    items = [m.strip() for text in truth.values() for m in NUMBERED_ITEM.findall(text)]
    # PROTOCOL.md: 7,424 triggers in all, 2-10 per sample, 4.6 on average
    assert len(items) == 7424
    empty = sum(1 for i in items if not i)
    assert empty == 2  # two ground truths end with a dangling number ("4. "): not triggers
    assert sum(len(s.triggers) for s in basic) == len(items) - empty
    counts = [len(s.triggers) for s in basic]
    assert min(counts) >= 2 and max(counts) == 10
    assert round(len(items) / len(basic), 1) == 4.6
    assert all(
        t.strip() == t and t and not re.match(r"\d+\s*[.)]\s", t) for s in basic for t in s.triggers
    )
    # a few items are numbered twice ("1. 1.Focused on the laptop."): one number is removed, the
    # rest of the annotator's text is kept as it is
    doubled = [t for s in basic for t in s.triggers if re.match(r"\d+[.)]\S", t)]
    assert "1.Focused on the laptop." in doubled and len(doubled) == 4


# Ground truths ending with an empty numbered item ("...\n4. ") are flagged, not silently fixed.
def test_empty_ground_truth_items_are_flagged(basic: list[Sample]) -> None:
    by_id = {s.id: s for s in basic}
    for image in (
        "EmoSet-118k/image/excitement/excitement_01172.jpg",
        "EmoSet-118k/image/excitement/excitement_05013.jpg",
    ):
        assert any("empty" in f for f in by_id[image].flags), by_id[image].flags


def test_known_defects_are_flagged_not_fixed(
    basic: list[Sample], eibench_dir: Path, logged: list[str]
) -> None:
    by_id = {s.id: s for s in basic}
    refusal = by_id["CAER-S/train/Angry/1074.png"]
    assert "question-is-refusal" in refusal.flags
    flagged = {s.id: s.flags for s in basic if s.flags}
    assert sum("question-is-refusal" in f for f in flagged.values()) == 1
    raw = {next(iter(r)): next(iter(r.values())) for r in read_jsonl(eibench_dir / "user.jsonl")}
    quoted = {image for image, q in raw.items() if q.rstrip().endswith(("'", '"'))}
    assert quoted, "the release has questions ending with a stray quote"
    assert {i for i, f in flagged.items() if "stray-quote" in f} == quoted
    for image in quoted:
        assert by_id[image].question == raw[image]  # surfaced, never silently fixed
    # and a run says so, naming the samples
    report_defects(basic)
    report = "\n".join(logged)
    assert "CAER-S/train/Angry/1074.png" in report and all(image in report for image in quoted)


def test_complex_samples_have_unique_stable_ids(
    complex_: list[Sample], eibench_dir: Path, tmp_path: Path
) -> None:
    assert len(complex_) == 50
    images = Counter(s.image for s in complex_)
    assert len(images) == 23 and max(images.values()) > 1  # images repeat
    assert len({s.id for s in complex_}) == 50
    assert all(s.split == "complex" and s.triggers for s in complex_)
    # stable: the same id for the same question whatever the line order of the file
    lines = (eibench_dir / "ec_complex.jsonl").read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "ec_complex.jsonl"
    shuffled.write_text("\n".join(reversed(lines)), encoding="utf-8")
    again = {s.id: s for s in load_complex(shuffled)}
    assert set(again) == {s.id for s in complex_}
    for s in complex_:
        assert again[s.id].question == s.question and again[s.id].triggers == s.triggers
        assert (
            s.id == f"{s.image}#{hashlib.sha256(s.question.encode()).hexdigest()[:8]}"
        )  # docs/data.md


def test_complex_triggers_match_the_raw_file(complex_: list[Sample], eibench_dir: Path) -> None:
    raw = read_jsonl(eibench_dir / "ec_complex.jsonl")
    expected = [
        (image, question, [m.strip() for m in NUMBERED_ITEM.findall(truth) if m.strip()])
        for row in raw
        for image, inner in row.items()
        for question, truth in inner.items()
    ]
    assert [(s.image, s.question, list(s.triggers)) for s in complex_] == expected


def test_parse_triggers() -> None:
    assert parse_triggers("1. a cat\n2. a dog") == ("a cat", "a dog")
    assert parse_triggers("1) one\r\n  2 . two \n\n10. ten") == ("one", "two", "ten")
    assert parse_triggers("no number\n3. numbered") == ("no number", "numbered")
    assert parse_triggers("1. 2 people arguing") == ("2 people arguing",)
    assert parse_triggers("1. \n2.") == ()


# -- subsets --------------------------------------------------------------------------------------
def test_subset_by_emotion(basic: list[Sample]) -> None:
    happy = select(basic, DataConfig(emotions=["happy"]))
    assert len(happy) == 91 and {s.emotion for s in happy} == {"happy"}
    two = select(basic, DataConfig(emotions=["angry", "sad"]))
    assert len(two) == 342 + 462
    with pytest.raises(DataError, match="fear"):
        select(basic, DataConfig(emotions=["fear"]))


def test_subset_by_ids_keeps_the_given_order(basic: list[Sample]) -> None:
    ids = [basic[500].id, basic[3].id, basic[1200].id]
    assert [s.id for s in select(basic, DataConfig(ids=ids))] == ids
    with pytest.raises(DataError, match="nope.png"):
        select(basic, DataConfig(ids=[basic[0].id, "nope.png"]))


def test_subset_limit_and_combinations(basic: list[Sample]) -> None:
    assert select(basic, DataConfig(limit=7)) == basic[:7]
    assert select(basic, DataConfig(limit=0)) == []
    assert select(basic, DataConfig(limit=10_000)) == basic
    sad = [s for s in basic if s.emotion == "sad"]
    assert select(basic, DataConfig(emotions=["sad"], shard="1/4", limit=5)) == sad[1::4][:5]


@pytest.mark.parametrize("count", [1, 3, 7])
def test_shards_partition_the_split(basic: list[Sample], count: int) -> None:
    shards = [select(basic, DataConfig(shard=f"{i}/{count}")) for i in range(count)]
    ids = [s.id for shard in shards for s in shard]
    assert sorted(ids) == sorted(s.id for s in basic)  # every sample exactly once
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("shard", ["3/3", "1/0", "0/0", "a/b", "-1/2", "1", "1/2/3", "2 of 4"])
def test_bad_shards_are_rejected(basic: list[Sample], shard: str) -> None:
    with pytest.raises(DataError, match="shard"):
        select(basic, DataConfig(shard=shard))


def test_shard_parsing_tolerates_spaces() -> None:
    assert parse_shard(" 2 / 5 ") == (2, 5)


# -- bad input ------------------------------------------------------------------------------------
def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def basic_files(tmp_path: Path, questions: str | bytes, truth: str | bytes) -> tuple[Path, Path]:
    return write(tmp_path / "user.jsonl", questions), write(tmp_path / "gt.json", truth)


GOOD_TRUTH = json.dumps({"a/happy/1.png": "1. sun\n2. beach", "a/sad/2.png": "1. rain"})


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    q, gt = basic_files(
        tmp_path, '{"a/happy/1.png": "why?"}\n\n{"a/sad/2.png": "why?"\n', GOOD_TRUTH
    )
    with pytest.raises(DataError) as err:
        load_basic(q, gt)
    assert str(q) in str(err.value) and "line 3" in str(err.value)


def test_empty_file(tmp_path: Path) -> None:
    q, gt = basic_files(tmp_path, "\n \n", GOOD_TRUTH)
    with pytest.raises(DataError, match="no samples") as err:
        load_basic(q, gt)
    assert str(q) in str(err.value)


@pytest.mark.parametrize(
    "line",
    [
        '{"a/happy/1.png": 42}',
        '["a/happy/1.png", "why?"]',
        '{"a/happy/1.png": "why?", "a/sad/2.png": "x"}',
        '{"a/happy/1.png": ""}',
        '"just a string"',
    ],
)
def test_wrong_types_in_questions(tmp_path: Path, line: str) -> None:
    q, gt = basic_files(tmp_path, line + "\n", GOOD_TRUTH)
    with pytest.raises(DataError) as err:
        load_basic(q, gt)
    assert str(q) in str(err.value) and "line 1" in str(err.value)


@pytest.mark.parametrize(
    "truth", ['["1. sun"]', '{"a/happy/1.png": ["sun", "beach"]}', "{not json"]
)
def test_wrong_types_in_ground_truth(tmp_path: Path, truth: str) -> None:
    q, gt = basic_files(tmp_path, '{"a/happy/1.png": "why?"}\n', truth)
    with pytest.raises(DataError) as err:
        load_basic(q, gt)
    assert str(gt) in str(err.value)


def test_ground_truth_missing_a_key(tmp_path: Path) -> None:
    q, gt = basic_files(
        tmp_path, '{"a/happy/1.png": "why?"}\n{"a/angry/3.png": "why?"}\n', GOOD_TRUTH
    )
    with pytest.raises(DataError) as err:
        load_basic(q, gt)
    message = str(err.value)
    assert "a/angry/3.png" in message and str(gt) in message and "line 2" in message


def test_empty_trigger_list(tmp_path: Path) -> None:
    truth = json.dumps({"a/happy/1.png": "1. \n2. "})
    q, gt = basic_files(tmp_path, '{"a/happy/1.png": "why?"}\n', truth)
    with pytest.raises(DataError, match="empty trigger list") as err:
        load_basic(q, gt)
    assert "a/happy/1.png" in str(err.value)


def test_duplicate_image_in_basic_questions(tmp_path: Path) -> None:
    q, gt = basic_files(
        tmp_path, '{"a/happy/1.png": "why?"}\n{"a/happy/1.png": "how?"}\n', GOOD_TRUTH
    )
    with pytest.raises(DataError, match="duplicate") as err:
        load_basic(q, gt)
    assert "line 2" in str(err.value)


def test_non_utf8(tmp_path: Path) -> None:
    q, gt = basic_files(tmp_path, '{"a/happy/1.png": "caf\xe9?"}\n'.encode("latin-1"), GOOD_TRUTH)
    with pytest.raises(DataError, match="UTF-8") as err:
        load_basic(q, gt)
    assert str(q) in str(err.value)
    q, gt = basic_files(
        tmp_path, '{"a/happy/1.png": "why?"}\n', '{"a/happy/1.png": "1. caf\xe9"}'.encode("latin-1")
    )
    with pytest.raises(DataError) as err:
        load_basic(q, gt)
    assert str(gt) in str(err.value)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    questions = '\ufeff{"a/happy/1.png": "Why so glad?"}\r\n{"a/sad/2.png": "Why so down?"}\r\n'
    truth = "\ufeff" + json.dumps(
        {"a/happy/1.png": "1. sun\r\n2. beach\r\n", "a/sad/2.png": "1. rain"}
    )
    samples = load_basic(*basic_files(tmp_path, questions, truth))
    assert [(s.id, s.question, s.triggers, s.emotion) for s in samples] == [
        ("a/happy/1.png", "Why so glad?", ("sun", "beach"), "happy"),
        ("a/sad/2.png", "Why so down?", ("rain",), "sad"),
    ]
    complex_text = '\ufeff{"x/1.png": {"Why?": "1. a\\r\\n2. b"}}\r\n{"x/1.png": {"How?": "1. c"}}'
    samples = load_complex(write(tmp_path / "c.jsonl", complex_text))
    assert [(s.question, s.triggers) for s in samples] == [("Why?", ("a", "b")), ("How?", ("c",))]


@pytest.mark.parametrize(
    "line",
    [
        '{"x/1.png": "not an object"}',
        '{"x/1.png": {}}',
        '{"x/1.png": {"Why?": 3}}',
        '{"x/1.png": {"Why?": ""}}',
    ],
)
def test_bad_complex_lines(tmp_path: Path, line: str) -> None:
    path = write(tmp_path / "c.jsonl", '{"x/0.png": {"Fine?": "1. ok"}}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        load_complex(path)
    assert str(path) in str(err.value) and "line 2" in str(err.value)


def test_repeated_complex_question_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl", '{"x/1.png": {"Why?": "1. a"}}\n{"x/1.png": {"Why?": "1. b"}}\n'
    )
    with pytest.raises(DataError, match="repeated") as err:
        load_complex(path)
    assert "line 2" in str(err.value)


# -- custom data ----------------------------------------------------------------------------------
CUSTOM_QUESTIONS = (
    '{"mine/fear/1.png": "Why is the climber terrified?"}\n'
    '{"mine/Happy/2.png": "Why is the skater jubilant?"}\n'
)
CUSTOM_TRUTH = {
    "mine/fear/1.png": "1. Climber hangs over a cliff edge\n2. Frayed rope",
    "mine/Happy/2.png": "1. The skater lands a trick\n2. Crowd cheering loudly\n3. Sunny afternoon",
}


@pytest.fixture
def custom_files(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "anywhere" / "my data"
    return (
        write(folder / "questions.jsonl", CUSTOM_QUESTIONS),
        write(folder / "truth.json", json.dumps(CUSTOM_TRUTH)),
    )


def test_custom_basic_data_from_any_path(
    custom_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "EICORE_DATA", "/nonexistent"
    )  # explicit files win over root and $EICORE_DATA
    q, gt = custom_files
    dataset = EIBench(EIBenchConfig(questions=str(q), ground_truth=str(gt), root="/nonexistent"))
    samples = dataset.load()
    assert [(s.id, s.emotion, len(s.triggers)) for s in samples] == [
        ("mine/fear/1.png", "fear", 2),
        ("mine/Happy/2.png", "happy", 3),
    ]
    files = dataset.provenance()["files"]
    assert {f["eibench_release"] for f in files.values()} == {False}
    assert select(samples, DataConfig(emotions=["fear"]))[0].id == "mine/fear/1.png"


def test_custom_basic_data_needs_both_files(custom_files: tuple[Path, Path]) -> None:
    with pytest.raises(DataError, match="ground_truth"):
        EIBench(EIBenchConfig(questions=str(custom_files[0]))).load()


def test_custom_complex_data(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl", '{"x/1.png": {"Why angry?": "1. a", "Why happy?": "1. b\\n2. c"}}'
    )
    samples = EIBench(EIBenchConfig(split="complex", complex=str(path))).load()
    assert [(s.image, s.question, s.triggers) for s in samples] == [
        ("x/1.png", "Why angry?", ("a",)),
        ("x/1.png", "Why happy?", ("b", "c")),
    ]
    assert samples[0].id != samples[1].id


def test_root_from_the_environment(eibench_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EICORE_DATA", str(eibench_dir))
    assert len(EIBench(EIBenchConfig(split="complex")).load()) == 50
    monkeypatch.setenv("EICORE_DATA", "/nonexistent")
    assert (
        len(EIBench(EIBenchConfig(split="complex", root=str(eibench_dir))).load()) == 50
    )  # root wins


def test_missing_files_and_bad_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        EIBench(EIBenchConfig(root=str(tmp_path))).load()
    with pytest.raises(DataError, match="split"):
        EIBench(EIBenchConfig(split="medium"))


def test_custom_data_end_to_end(cli: CLI, custom_files: tuple[Path, Path], tmp_path: Path) -> None:
    q, gt = custom_files
    root = tmp_path / "runs"
    cli.run(*CHEAP, f"data.questions={q}", f"data.ground_truth={gt}", f"run.root={root}")
    (run_dir,) = root.iterdir()
    predictions = read_jsonl(run_dir / "predictions.jsonl")
    assert [next(iter(p)) for p in predictions] == ["mine/fear/1.png", "mine/Happy/2.png"]
    metrics = read_json(run_dir / "metrics.json")
    # echo answers with the question's long words: "climber, terrified" and "skater, jubilant";
    # the keyword judge then recalls "Climber hangs..." (1/2) and "The skater lands..." (1/3)
    recall = metrics["recall"]
    assert recall["by_emotion"] == pytest.approx({"fear": 1 / 2, "happy": 1 / 3})
    assert recall["overall"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert metrics["n_samples"] == 2 and metrics["n_failed"] == 0


# -- download -------------------------------------------------------------------------------------
class Server:
    """A local HTTP server over a folder laid out like the EIBench repository; records requests."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self) -> None:
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/EIBench"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(eibench_dir: Path, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """Copies of the three files under ``<srv>/EIBench/{EI_Basic,EI_Complex}/`` served locally."""
    folder = tmp_path / "srv"
    for name, (remote, _) in FILES.items():
        target = folder / "EIBench" / remote
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(eibench_dir / name, target)
    server = Server(folder)
    yield server, folder / "EIBench"
    server.close()


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EICORE_CACHE", str(cache))
    monkeypatch.delenv("EICORE_DATA", raising=False)
    return cache


def test_download_verifies_and_caches(served: tuple[Server, Path], fresh_cache: Path) -> None:
    server, _ = served
    samples = EIBench(EIBenchConfig(source_url=server.url)).load()
    assert len(samples) == 1615
    assert sorted(server.requests) == [
        "/EIBench/EI_Basic/basic_ground_truth.json",
        "/EIBench/EI_Basic/user.jsonl",
    ]
    folder = fresh_cache / "eibench" / COMMIT[:7]
    for name in ("user.jsonl", "basic_ground_truth.json"):
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == FILES[name][1]
    # a second load, and the provenance, use the verified cache: no request
    dataset = EIBench(EIBenchConfig(source_url=server.url))
    assert len(dataset.load()) == 1615
    provenance = dataset.provenance()
    assert all(f["eibench_release"] for f in provenance["files"].values())
    assert len(server.requests) == 2
    # the complex split fetches only its own file
    assert len(EIBench(EIBenchConfig(split="complex", source_url=server.url)).load()) == 50
    assert server.requests[2:] == ["/EIBench/EI_Complex/ec_complex.jsonl"]


def test_a_corrupted_cache_file_is_fetched_again(
    served: tuple[Server, Path], fresh_cache: Path
) -> None:
    server, _ = served
    EIBench(EIBenchConfig(split="complex", source_url=server.url)).load()
    cached = fresh_cache / "eibench" / COMMIT[:7] / "ec_complex.jsonl"
    cached.write_text("{}", encoding="utf-8")
    assert len(EIBench(EIBenchConfig(split="complex", source_url=server.url)).load()) == 50
    assert len(server.requests) == 2
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == FILES["ec_complex.jsonl"][1]


def test_a_tampered_download_is_refused_and_not_cached(
    served: tuple[Server, Path], fresh_cache: Path
) -> None:
    server, folder = served
    truth = folder / "EI_Basic" / "basic_ground_truth.json"
    original = truth.read_bytes()
    truth.write_bytes(original.replace(b"1. ", b"1.  ", 1))
    with pytest.raises(DataError, match="sha256") as err:
        EIBench(EIBenchConfig(source_url=server.url)).load()
    assert "basic_ground_truth.json" in str(err.value)
    cache_folder = fresh_cache / "eibench" / COMMIT[:7]
    assert not (cache_folder / "basic_ground_truth.json").exists()
    assert not list(fresh_cache.rglob("*.part"))
    # once the server is right again, the same cache works: nothing bad was kept
    truth.write_bytes(original)
    assert len(EIBench(EIBenchConfig(source_url=server.url)).load()) == 1615


def test_an_unreachable_source_says_how_to_use_local_files(fresh_cache: Path) -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="data.root"):
        EIBench(
            EIBenchConfig(split="complex", source_url=f"http://127.0.0.1:{port}/EIBench")
        ).load()
    assert not (fresh_cache / "eibench" / COMMIT[:7] / "ec_complex.jsonl").exists()
