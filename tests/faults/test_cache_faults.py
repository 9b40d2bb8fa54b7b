"""A damaged or locked call cache: the run stops with a clear error naming the file and the
recovery (``eicore cache verify [--repair]`` / ``eicore cache clear``), never with results made
from a damaged entry; after the recovery the same command finishes the run."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from eicore_test_support import CLI, Result, echo_args, only_run_dir, read_json, read_jsonl

from eicore.run.store import CallCache, StoreError
from eicore.types import Completion

SELECTION = ("data.shard=2/80", "data.limit=8")


def first_run(cli: CLI, eibench_dir: Path, tmp_path: Path) -> list[str]:
    """Fill the cache with a run; returns the other run's arguments (same calls, new root)."""
    log = tmp_path / "echo.log"
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-a", *SELECTION, f"model.log={log}"))
    return echo_args(eibench_dir, tmp_path / "runs-b", *SELECTION, f"model.log={log}")


def calls_logged(tmp_path: Path) -> int:
    return len((tmp_path / "echo.log").read_text().splitlines())


def assert_clear_error(result_stderr: str, cache: Path) -> None:
    assert str(cache / "calls.sqlite") in result_stderr
    assert "eicore cache" in result_stderr and "Traceback" not in result_stderr


def test_an_unreadable_cache_file_fails_before_any_call_and_clear_recovers(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = first_run(cli, eibench_dir, tmp_path)
    path = cli.cache / "calls.sqlite"
    path.write_bytes(b"\x00garbage, not SQLite\x00" * 512)
    result = cli.run(*args, expect=2)
    assert f"cannot open {path}: file is not a database; run `eicore cache clear`" in result.stderr
    assert "Traceback" not in result.stderr
    assert calls_logged(tmp_path) == 8  # nothing called
    verify = cli("cache", "verify", expect=1)
    assert "unusable" in verify.stdout and "eicore cache clear" in verify.stdout
    cleared = cli("cache", "clear")
    assert str(path) in cleared.stdout and not path.exists()
    cli.run(*args)
    assert calls_logged(tmp_path) == 16  # the lost entries called again
    assert read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")["complete"] is True


def test_a_damaged_entry_is_never_used_and_repair_drops_it(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = first_run(cli, eibench_dir, tmp_path)
    path = cli.cache / "calls.sqlite"
    db = sqlite3.connect(path)
    (key, completion) = db.execute("SELECT key, completion FROM calls LIMIT 1").fetchone()
    forged = json.dumps({**json.loads(completion), "text": "1. FORGED trigger"})
    db.execute("UPDATE calls SET completion = ? WHERE key = ?", (forged, key))  # a flipped byte
    db.commit()
    db.close()
    result = cli.run(*args, expect=2)
    assert_clear_error(result.stderr, cli.cache)
    assert "damaged" in result.stderr and key[:12] in result.stderr
    run_dir = only_run_dir(tmp_path / "runs-b")
    assert "FORGED" not in (run_dir / "records.jsonl").read_text()
    verify = cli("cache", "verify", expect=1)
    assert "8 entries, 1 damaged" in verify.stdout and "--repair" in verify.stdout
    repaired = cli("cache", "verify", "--repair")
    assert "dropped 1 damaged entries" in repaired.stdout
    cli("cache", "verify")  # sound now: exit 0
    cli.run(*args)
    assert calls_logged(tmp_path) == 9  # only the dropped entry is called again
    records = read_jsonl(run_dir / "records.jsonl")
    assert len(records) == 8 and {r["status"] for r in records} == {"answered"}
    assert "FORGED" not in (run_dir / "records.jsonl").read_text()


def test_a_corrupted_page_stops_the_run_with_the_recovery(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = first_run(cli, eibench_dir, tmp_path)
    path = cli.cache / "calls.sqlite"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 2 * page
    data[page : 2 * page] = b"\xa5" * page  # the table's second page: garbage
    path.write_bytes(bytes(data))
    result = cli.run(*args, expect=2)
    assert_clear_error(result.stderr, cli.cache)
    assert "database disk image is malformed" in result.stderr
    assert cli("cache", "verify", expect=1).stdout.count("unusable") == 1
    cli("cache", "clear")
    cli.run(*args)
    assert read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")["n_answered"] == 8


def test_a_cache_locked_for_a_moment_is_waited_for(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = first_run(cli, eibench_dir, tmp_path)
    args = [a.replace("data.limit=8", "data.limit=12") for a in args]  # 4 new calls to write
    holder = sqlite3.connect(
        cli.cache / "calls.sqlite", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    before = calls_logged(tmp_path)
    results: list[Result] = []
    run = threading.Thread(target=lambda: results.append(cli.run(*args, expect=None)))
    run.start()
    while calls_logged(tmp_path) == before:  # a call made: its answer is to be written now
        assert run.is_alive(), results
        time.sleep(0.01)
    time.sleep(0.5)  # not a bound: only more likely that the write is already waiting
    holder.execute("COMMIT")  # released while the run waits: the run goes on
    run.join(timeout=120)
    holder.close()
    assert results[0].returncode == 0, results[0]
    assert read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")["calls_made"] == 4


def test_a_cache_locked_past_the_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    cache = CallCache(path, timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as err:
            cache.put("k", Completion("1. a"), "m")
    finally:
        holder.close()
    message = str(err.value)
    assert str(path) in message and "another process holds a write lock" in message
    with pytest.raises(StoreError) as again:  # later uses fail at once, not after another wait:
        cache.get("k")  # the lock is gone, so only the remembered failure can raise here
    assert again.value is err.value
    cache.close()
    cache = CallCache(path)  # the lock gone, the cache works
    cache.put("k", Completion("1. a"), "m")
    assert cache.get("k") == Completion("1. a")
    cache.close()


def test_a_cache_of_another_layout_is_refused_with_the_recovery(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE calls (key TEXT PRIMARY KEY, completion TEXT, created REAL)")
    db.close()
    with pytest.raises(StoreError, match="eicore cache clear") as err:
        CallCache(path)
    assert str(path) in str(err.value)


def test_a_cache_from_before_checksums_is_upgraded_with_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE calls (key TEXT PRIMARY KEY, completion TEXT NOT NULL, model TEXT NOT NULL,"
        " created REAL NOT NULL)"
    )
    stored = json.dumps({"text": "1. a raised fist"})
    db.execute("INSERT INTO calls VALUES ('k', ?, 'm', 0)", (stored,))
    db.commit()
    db.close()
    cache = CallCache(path)
    assert cache.get("k") == Completion("1. a raised fist")
    cache.close()
    assert CallCache(path).get("k") == Completion("1. a raised fist")  # upgraded once
