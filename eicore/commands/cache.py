"""``eicore cache verify|clear``: check the shared call cache entry by entry, drop damaged
entries, or start an empty cache (the recovery for a cache SQLite cannot read)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from eicore.run.store import CallCache, entry_digest
from eicore.types import Completion

SIDE_FILES = ("-wal", "-shm")
"""SQLite's files beside the database in WAL mode."""


@dataclass
class CacheReport:
    """What :func:`verify` found in one cache file."""

    path: Path
    exists: bool
    entries: int = 0
    damaged: list[str] = field(default_factory=list)
    """Keys of entries whose checksum does not match or whose completion does not decode."""
    unreadable: str | None = None
    """Why SQLite cannot read the file as a cache (then only ``eicore cache clear`` helps)."""
    dropped: int = 0
    """Damaged entries deleted by ``--repair``."""

    @property
    def sound(self) -> bool:
        return self.unreadable is None and len(self.damaged) == self.dropped

    def summary(self) -> str:
        if not self.exists:
            return f"{self.path}: no cache here (nothing to check)"
        if self.unreadable is not None:
            return (
                f"{self.path}: unusable: {self.unreadable}\n"
                "run `eicore cache clear` to remove it and start an empty cache"
            )
        lines = [f"{self.path}: {self.entries} entries, {len(self.damaged)} damaged"]
        if self.dropped:
            lines.append(f"dropped {self.dropped} damaged entries; they will be called again")
        elif self.damaged:
            lines.append(
                "run `eicore cache verify --repair` to drop them (they will be called again)"
            )
        return "\n".join(lines)


def verify(path: Path, repair: bool = False) -> CacheReport:
    """Check SQLite's structure and every entry's checksum; with ``repair``, delete the damaged
    entries of a structurally sound cache."""
    if not path.exists():
        return CacheReport(path, exists=False)
    report = CacheReport(path, exists=True)
    mode = "rw" if repair else "ro"
    try:
        db = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        report.unreadable = str(exc)
        return report
    try:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            report.unreadable = "; ".join(problems[:5])
            return report
        columns = tuple(row[1] for row in db.execute("PRAGMA table_info(calls)"))
        if columns != CallCache.COLUMNS:
            report.unreadable = f"not an eicore call cache of this version (columns {columns})"
            return report
        rows = db.execute("SELECT key, completion, model, digest FROM calls")
        for key, completion, model, digest in rows:
            report.entries += 1
            if digest != entry_digest(key, completion, model) or not _decodes(completion):
                report.damaged.append(key)
        if repair and report.damaged:
            db.executemany("DELETE FROM calls WHERE key = ?", [(k,) for k in report.damaged])
            report.dropped = len(report.damaged)
    except sqlite3.Error as exc:
        report.unreadable = str(exc)
    finally:
        db.close()
    return report


def _decodes(completion: str) -> bool:
    try:
        Completion(**json.loads(completion))
    except (ValueError, TypeError):
        return False
    return True


def clear(path: Path) -> list[Path]:
    """Delete the cache file and SQLite's side files; returns those that existed.

    Run it while no eicore process uses the cache: a running process keeps writing to the
    deleted file, and its calls are lost to later runs (never mixed into the new cache).
    """
    files = [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)]
    removed = [f for f in files if f.exists()]
    for f in removed:
        f.unlink()
    return removed
