"""On-disk state: the call cache shared across runs, and one run's per-sample records.

Both are SQLite databases in WAL mode, written one transaction per call or sample, so a crash
or kill at any point leaves every committed row intact and nothing half-written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
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


CACHE_RECOVERY = (
    "run `eicore cache verify` to check it, `eicore cache verify --repair` to drop damaged "
    "entries, or `eicore cache clear` to start an empty cache"
)
"""What to do about a damaged call cache (docs/reliability.md)."""


def _connect(path: Path, schema: str, timeout: float, recovery: str = "") -> sqlite3.Connection:
    """Open (or create) an SQLite database in WAL mode; ``recovery`` is added to the message
    of a failure that is not a lock, a full disk or a folder (a damaged file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        hint = _hint(exc) or (f"; {recovery}" if recovery else "")
        raise StoreError(f"cannot open {path}: {exc}{hint}") from None
    return db


def _hint(exc: BaseException) -> str:
    """Why a database operation may have failed, as far as the error tells."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return " (another process holds a write lock on it; wait for it, or stop it)"
    if "readonly" in text or "unable to open" in text or isinstance(exc, PermissionError):
        return (
            " (it cannot be opened for writing: check that it is a file in a folder you may "
            "write, or point eicore elsewhere: run.cache_dir for the call cache, run.root for runs)"
        )
    if ("disk" in text and ("full" in text or "i/o" in text)) or isinstance(exc, OSError):
        return " (is the disk full, or the folder not writable?)"
    return ""


class CallCache:
    """Completions keyed by a digest of (model identity, prompt with image digests, round).

    Each row holds a sha256 of its key, completion and model: an entry damaged on disk is
    reported (:class:`StoreError`), never returned as a completion. SQLite errors while the run
    reads or writes the cache are StoreErrors too, naming the file and the recovery. After one
    failure every later use fails at once with the same error (no second wait on a lock).
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS calls (
        key TEXT PRIMARY KEY, completion TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL,
        digest TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS batches (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, keys TEXT NOT NULL, created REAL NOT NULL
    );
    """
    """``batches``: provider batches sent and not yet collected (:mod:`eicore.run.batches`)."""
    COLUMNS = ("key", "completion", "model", "created", "digest")

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        """``timeout``: seconds a write waits for another process's lock before failing."""
        self.path = path
        self.failure: StoreError | None = None
        self.db = _connect(path, self.SCHEMA, timeout, "run `eicore cache clear`")
        columns = tuple(r[1] for r in self.db.execute("PRAGMA table_info(calls)"))
        if columns == self.COLUMNS[:-1]:
            columns = self._add_digests()
        if columns != self.COLUMNS:
            self.db.close()
            raise StoreError(
                f"{path} has another layout than this eicore writes (columns {list(columns)}); "
                "run `eicore cache clear` to start an empty cache"
            )

    def _add_digests(self) -> tuple[str, ...]:
        """Upgrade a cache written before rows carried checksums: each row gets the checksum of
        what it holds now, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("ALTER TABLE calls ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
            rows = self.db.execute("SELECT key, completion, model FROM calls").fetchall()
            self.db.executemany(
                "UPDATE calls SET digest = ? WHERE key = ?",
                [(entry_digest(key, completion, model), key) for key, completion, model in rows],
            )
        except sqlite3.Error:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return tuple(r[1] for r in self.db.execute("PRAGMA table_info(calls)"))

    def get(self, key: str) -> Completion | None:
        if self.failure is not None:
            raise self.failure
        try:
            row = self.db.execute(
                "SELECT completion, model, digest FROM calls WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._fail("cannot read", exc) from None
        if row is None:
            return None
        completion, model, digest = row
        try:
            if digest != entry_digest(key, completion, model):
                raise ValueError("its checksum does not match")
            return Completion(**json.loads(completion))
        except (ValueError, TypeError) as exc:
            self.failure = StoreError(
                f"{self.path}: the cached call {key[:12]}… is damaged ({exc}); {CACHE_RECOVERY}"
            )
            raise self.failure from None

    def put(self, key: str, completion: Completion, model: str) -> None:
        if self.failure is not None:
            raise self.failure
        data = json.dumps(dataclasses.asdict(completion))
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?)",
                (key, data, model, time.time(), entry_digest(key, data, model)),
            )
        except sqlite3.Error as exc:
            raise self._fail("cannot write", exc) from None

    def add_batch(self, batch: PendingBatch) -> None:
        """Record a batch just sent, before anything waits for it."""
        keys = json.dumps(sorted(batch.keys))
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?)",
                (batch.id, batch.model, keys, batch.created),
            )
        except sqlite3.Error as exc:
            raise self._fail("cannot write", exc) from None

    def batches(self, model: str) -> list[PendingBatch]:
        """The recorded batches of the model with identity ``model``, oldest first."""
        try:
            rows = self.db.execute(
                "SELECT id, keys, created FROM batches WHERE model = ? ORDER BY created", (model,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._fail("cannot read", exc) from None
        return [PendingBatch(i, model, frozenset(json.loads(k)), c) for i, k, c in rows]

    def drop_batch(self, batch_id: str) -> None:
        """Forget a batch whose answers are all stored."""
        try:
            self.db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        except sqlite3.Error as exc:
            raise self._fail("cannot write", exc) from None

    def _fail(self, doing: str, exc: sqlite3.Error) -> StoreError:
        hint = _hint(exc)
        recovery = "" if "lock" in hint else f"; {CACHE_RECOVERY}"
        self.failure = StoreError(f"{doing} the call cache {self.path}: {exc}{hint}{recovery}")
        return self.failure

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class PendingBatch:
    """A provider batch sent and not yet collected: its id and the call-cache keys it holds."""

    id: str
    model: str
    """The identity (JSON) of the model it was sent to."""
    keys: frozenset[str]
    created: float


def entry_digest(key: str, completion: str, model: str) -> str:
    """The checksum of one cache row."""
    return hashlib.sha256("\x00".join((key, completion, model)).encode()).hexdigest()


class RunStore:
    """One run directory's records, one row per sample, plus the config hash it was made with.

    The directory is locked while open: a second process on the same run refuses to start.
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS records (
        sample_id TEXT PRIMARY KEY, status TEXT NOT NULL, record TEXT NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS made_calls (key TEXT PRIMARY KEY, sample_id TEXT);
    """
    """``made_calls``: the cache keys of the calls this run made, whichever process made them,
    and the sample whose stored record counts each one (NULL: none yet, as when the process that
    made it was killed before the sample finished; the next sample to use it counts it)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            self._lock = open(run_dir / ".lock", "w")  # noqa: SIM115 - held for the store's life
        except OSError as exc:
            raise StoreError(f"cannot write the run directory {run_dir}: {exc}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreError(
                f"{run_dir} is in use by another eicore process; wait for it or choose another "
                "run.name"
            ) from None
        self.db = _connect(run_dir / "run.sqlite", self.SCHEMA, timeout=30.0)

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

    def note_made(self, key: str) -> None:
        """Record that this run made the call ``key`` (its answer is now in the call cache)."""
        try:
            self.db.execute("INSERT OR IGNORE INTO made_calls VALUES (?, NULL)", (key,))
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot write {self.run_dir / 'run.sqlite'}: {exc}{_hint(exc)}"
            ) from None

    def made_uncounted(self, key: str) -> bool:
        """Whether this run made the call ``key`` and no stored record counts it yet."""
        row = self.db.execute("SELECT sample_id FROM made_calls WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] is None

    def put(self, record: SampleRecord, made: Iterable[str] = ()) -> None:
        """Save one sample's record (replacing an earlier one), or raise a StoreError.

        ``made``: the cache keys of the calls the record counts as made, marked as counted in
        the same transaction."""
        data = json.dumps(record_to_dict(record))
        counted = [(record.sample.id, key) for key in made]
        try:
            if counted:
                self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                (record.sample.id, record.status, data, time.time()),
            )
            if counted:
                self.db.executemany("UPDATE made_calls SET sample_id = ? WHERE key = ?", counted)
                self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise StoreError(
                f"cannot save sample {record.sample.id!r} in {self.run_dir / 'run.sqlite'}: "
                f"{exc}{_hint(exc)}; the samples saved before it are kept: "
                "run the same command again to resume"
            ) from None

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
    """Write JSON atomically (a reader never sees half a file); a failure is a StoreError."""
    write_atomically(path, [json.dumps(data, indent=2, ensure_ascii=False) + "\n"])


def write_atomically(path: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` to ``path.part``, then rename it over ``path``: a kill or a full disk
    leaves the old file whole. A write that fails is a StoreError naming the file."""
    partial = path.with_suffix(path.suffix + ".part")
    try:
        with partial.open("w", encoding="utf-8") as f:
            f.writelines(chunks)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc}{_hint(exc)}") from None
