"""On-disk state: the call cache shared across runs, and one run's per-sample records.

Both are SQLite databases in WAL mode, written one transaction per call or sample, so a crash
or kill at any point leaves every committed row intact and nothing half-written.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from eicore.types import Completion, SampleRecord, record_from_dict, record_to_dict


class StoreError(RuntimeError):
    """A database that cannot be opened or written; the message says which and what to do."""


def cache_home() -> Path:
    """``$EICORE_CACHE``, else ``$XDG_CACHE_HOME/eicore``, else ``~/.cache/eicore``."""
    if os.environ.get("EICORE_CACHE"):
        return Path(os.environ["EICORE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "eicore"


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    return db


class CallCache:
    """Completions keyed by a digest of (model identity, prompt with image digests, round)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS calls (
        key TEXT PRIMARY KEY, completion TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL
    );
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = _connect(path, self.SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self.db.execute("SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion, model: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?)",
            (key, json.dumps(dataclasses.asdict(completion)), model, time.time()),
        )

    def close(self) -> None:
        self.db.close()


class RunStore:
    """One run directory's records, one row per sample, plus the config hash it was made with.

    The directory is locked while open: a second process on the same run refuses to start.
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS records (
        sample_id TEXT PRIMARY KEY, status TEXT NOT NULL, record TEXT NOT NULL, updated REAL NOT NULL
    );
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(run_dir / ".lock", "w")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreError(
                f"{run_dir} is in use by another eicore process; wait for it or choose another "
                "run.name"
            ) from None
        self.db = _connect(run_dir / "run.sqlite", self.SCHEMA)

    def check_config(self, config_hash: str) -> None:
        """Bind the run to one config: resuming with a different one is refused."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'config_hash'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('config_hash', ?)", (config_hash,))
        elif row[0] != config_hash:
            raise StoreError(
                f"{self.run_dir} holds a run made with another configuration; "
                "resume it with the same settings or choose another run.name"
            )

    def put(self, record: SampleRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
            (record.sample.id, record.status, json.dumps(record_to_dict(record)), time.time()),
        )

    def answered_ids(self) -> set[str]:
        rows = self.db.execute("SELECT sample_id FROM records WHERE status = 'answered'")
        return {r[0] for r in rows}

    def records(self) -> dict[str, SampleRecord]:
        rows = self.db.execute("SELECT sample_id, record FROM records")
        return {sid: record_from_dict(json.loads(data)) for sid, data in rows}

    def close(self) -> None:
        self.db.close()
        self._lock.close()


def dump_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)
