"""The run log on disk: :func:`write` and :func:`read`, the one writer and the one reader of a
run directory's ``metrics.json``, ``records.jsonl`` and ``predictions.jsonl``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

from eicore.datasets.samples import read_jsonl
from eicore.log.schema import Completeness, RunLog, RunLogError, from_summary
from eicore.run.store import dump_json, write_atomically
from eicore.types import SampleRecord, record_from_dict, record_to_dict

METRICS, RECORDS, PREDICTIONS, CONFIG = (
    "metrics.json", "records.jsonl", "predictions.jsonl", "config.yaml"
)  # fmt: skip


def write_jsonl(path: Path, rows: Any) -> None:
    """One JSON object per line, written atomically (a failure is a StoreError)."""
    write_atomically(path, (json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write(run_dir: Path, log: RunLog, files: dict[str, Any] | None = None) -> None:
    """predictions.jsonl (EIBench's output shape), records.jsonl, metrics.json (the log's
    summary) and ``files`` beside them (``name.jsonl`` → rows, ``name.json`` → a value: the
    strategy's artifacts, judgments.jsonl). config.yaml is the run's own: written when it
    starts.

    predictions.jsonl has one line per sample in data order — a failed sample's answer is empty
    (records.jsonl says it failed, and why) — so readers that pair by position stay aligned.
    """
    records = log.samples
    predictions = [
        {r.sample.image: r.response.text if r.status == "answered" and r.response else ""}
        for r in records
    ]
    write_jsonl(run_dir / PREDICTIONS, predictions)
    write_jsonl(run_dir / RECORDS, (record_to_dict(r) for r in records))  # one at a time
    dump_json(run_dir / METRICS, log.summary())
    for name, content in (files or {}).items():
        path = run_dir / Path(name).name
        if path.suffix == ".jsonl":
            write_jsonl(path, content)
        else:
            dump_json(path, content)
    log.dir = run_dir


def read(run_dir: Path) -> RunLog:
    """The log of the run directory ``run_dir`` (a run, a re-score folder or a merged run).

    Records are read from records.jsonl when first used (:attr:`RunLog.samples`). A folder
    with records.jsonl but no metrics.json (an unfinished run) gives a log counted from its
    records, marked incomplete.
    """
    run_dir = Path(run_dir)
    metrics, records = run_dir / METRICS, run_dir / RECORDS
    if not run_dir.is_dir() or not (metrics.is_file() or records.is_file()):
        raise RunLogError(f"{run_dir}: not a run directory (no {METRICS} or {RECORDS})")
    config = read_config(run_dir)
    if metrics.is_file():
        summary = read_json(metrics)
        if not isinstance(summary, dict):
            raise RunLogError(f"{metrics}: expected a JSON object")
        log = from_summary(summary, str(metrics), config)
    else:
        found = read_records(run_dir)
        log = RunLog(Completeness.of(found, False), {}, {}, config=config, records=found)
    log.dir = run_dir
    if log.records is None:
        log.loader = functools.partial(read_records, run_dir)
    return log


def read_records(run_dir: Path) -> list[SampleRecord]:
    """The records of ``run_dir/records.jsonl`` in its order; a malformed line is reported with
    its number. None there: no records."""
    path = Path(run_dir) / RECORDS
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return []
    records = []
    for number, row in read_jsonl(path, single_key=False):
        try:
            records.append(record_from_dict(row))
        except (KeyError, TypeError) as exc:
            raise RunLogError(f"{path}, line {number}: not a sample record ({exc!r})") from None
    return records


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """config.yaml of ``run_dir`` as a tree (interpolations as written), None if absent."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return None
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunLogError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise RunLogError(f"{path}{where}: malformed YAML") from None
    if not isinstance(tree, dict):
        raise RunLogError(f"{path}: expected a mapping (an eicore config.yaml)")
    return tree


def read_json(path: Path) -> Any:
    """A JSON file of a run or sweep directory, or a RunLogError naming the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunLogError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RunLogError(f"{path}, line {exc.lineno}: malformed JSON ({exc.msg})") from None
