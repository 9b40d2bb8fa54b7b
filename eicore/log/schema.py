"""The typed run log: what a run, a re-score or a merge produced, with a schema version.

``metrics.json`` is :meth:`RunLog.summary` serialised: completeness and usage totals at the top
(the keys users know: ``n_samples``, ``calls_made``, ``tokens``, ``cost_usd``…), usage per role,
each metric's values at the top level too, and under ``results`` which keys each metric gave and
which of them are typed (:class:`Recall`), so a reader rebuilds the same log.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eicore.types import Call, SampleRecord

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
"""Version of the layout of ``metrics.json``; a reader refuses a newer one."""


class RunLogError(ValueError):
    """A run directory or metrics.json the reader cannot use; the message names it."""


@dataclass(frozen=True)
class Recall:
    """One judge's trigger recall over a run: EIBench's measure, the result the core displays.

    A metric returns it (or a ``{judge: Recall}`` mapping) among its values; the core's tables,
    plots and viewer read only this type, never a metric's key names.
    """

    judge: str
    overall: float | None
    """Sample-weighted mean (the paper's "overall")."""
    macro: float | None
    """Mean of the per-emotion means."""
    by_emotion: dict[str, float] = field(default_factory=dict)
    n_scored: int = 0
    n_unjudged: int = 0
    """Answered samples the judge could not score (unparsed, errored or missing judgments)."""
    n_by_emotion: dict[str, int] = field(default_factory=dict)
    ci: list[float] | None = None
    ci_macro: list[float] | None = None
    ci_by_emotion: dict[str, list[float]] = field(default_factory=dict)
    bootstrap: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        form = dataclasses.asdict(self)
        optional = ("ci", "ci_macro", "bootstrap")
        return {k: v for k, v in form.items() if not (k in optional and v is None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recall:
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        return cls(**{"judge": "judge", "overall": None, "macro": None, **kept})

    def value(self, cell: str) -> tuple[float | None, list[float] | None]:
        """A cell's recall and CI: ``overall``, ``macro`` or an emotion."""
        if cell == "overall":
            return self.overall, self.ci
        if cell == "macro":
            return self.macro, self.ci_macro
        return self.by_emotion.get(cell), self.ci_by_emotion.get(cell)

    def n(self, cell: str) -> int | None:
        return self.n_scored if cell in ("overall", "macro") else self.n_by_emotion.get(cell)


@dataclass(frozen=True)
class RoleUsage:
    """The model calls of one role (``answerer``, ``captioner``, ``judge:<name>``…)."""

    calls_made: int = 0
    calls_cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    """Tokens of every traced call, cached ones included (what the answers took)."""
    cost_usd: float | None = None
    """Estimated dollars of the calls made (cached calls cost nothing); None when none priced."""
    calls_priced: int = 0
    calls_unpriced: int = 0

    def __add__(self, other: RoleUsage) -> RoleUsage:
        costs = [c for c in (self.cost_usd, other.cost_usd) if c is not None]
        return RoleUsage(
            self.calls_made + other.calls_made,
            self.calls_cached + other.calls_cached,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            round(sum(costs), 6) if costs else None,
            self.calls_priced + other.calls_priced,
            self.calls_unpriced + other.calls_unpriced,
        )


def usage_of(
    records: Sequence[SampleRecord], cost: Callable[[Call], float | None] | None = None
) -> dict[str, RoleUsage]:
    """Usage per role over every traced call of ``records``; ``cost`` prices a call made."""
    by_role: dict[str, list[Call]] = {}
    for record in records:
        for call in record.calls:
            by_role.setdefault(call.role, []).append(call)
    usage = {}
    for role, calls in by_role.items():
        prices = [cost(c) for c in calls if not c.cached] if cost else []
        priced = [p for p in prices if p is not None]
        usage[role] = RoleUsage(
            calls_made=sum(not c.cached for c in calls),
            calls_cached=sum(c.cached for c in calls),
            input_tokens=sum(c.completion.input_tokens or 0 for c in calls),
            output_tokens=sum(c.completion.output_tokens or 0 for c in calls),
            cost_usd=round(sum(priced), 6) if priced else None,
            calls_priced=len(priced),
            calls_unpriced=len(prices) - len(priced),
        )
    return usage


@dataclass(frozen=True)
class Completeness:
    """How much of the run is there."""

    complete: bool
    """Every sample the run selects has a record (for a re-score: every answer lined up)."""
    n_samples: int
    n_answered: int
    n_failed: int
    errors: dict[str, int] = field(default_factory=dict)
    """Failed samples by error type."""

    @classmethod
    def of(cls, records: Sequence[SampleRecord], complete: bool) -> Completeness:
        errors = collections.Counter(r.error_type for r in records if r.status == "failed")
        return cls(
            complete,
            len(records),
            sum(r.status == "answered" for r in records),
            sum(r.status == "failed" for r in records),
            {str(k): v for k, v in sorted(errors.items(), key=lambda kv: str(kv[0]))},
        )


@dataclass(frozen=True)
class Provenance:
    """What the run was made with."""

    config_hash: str
    """The run's identity (the suffix of its directory name)."""
    config_sha256: str
    """Digest of the config snapshot (config.yaml)."""
    eicore: str | None = None
    plugins: dict[str, str] = field(default_factory=dict)
    git: dict[str, Any] | None = None
    choices: dict[str, str] = field(default_factory=dict)
    """The config-group names it was composed from (``model``: ``gpt-4o``…)."""
    data: dict[str, Any] = field(default_factory=dict)
    """The data's files and digests, as the dataset reports them."""
    judges: list[dict[str, Any]] = field(default_factory=list)
    seeds: dict[str, Any] = field(default_factory=dict)
    merged_from: list[str] | None = None
    """The shard directories of a merged run."""

    def to_dict(self) -> dict[str, Any]:
        form = dataclasses.asdict(self)
        return {k: v for k, v in form.items() if not (k == "merged_from" and v is None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        return cls(**{"config_hash": "", "config_sha256": "", **kept})


RECALL, RECALL_BY_JUDGE = "recall", "recall_by_judge"
"""How ``results`` in metrics.json types a value: one :class:`Recall`, or judge → Recall."""


@dataclass
class RunLog:
    """One run directory's log: what ``eicore run``, ``score`` and ``merge`` write, and what
    every reader (report, sweeps, viewer, compare, calibrate, merge, notebooks) gets back."""

    completeness: Completeness
    usage: dict[str, RoleUsage]
    """Role → its calls (``answerer``, ``captioner``, ``planner``, ``judge:<name>``…)."""
    results: dict[str, dict[str, Any]]
    """Metric name → the values it computed (a :class:`Recall` where it gave one)."""
    judges: list[dict[str, Any]] = field(default_factory=list)
    strategy: dict[str, Any] | None = None
    provenance: Provenance | None = None
    source: dict[str, Any] | None = None
    """``eicore score``: where the answers came from, and how they lined up with the data."""
    config: dict[str, Any] | None = None
    """The config snapshot (config.yaml, secrets masked)."""
    dir: Path | None = None
    schema_version: int = SCHEMA_VERSION
    records: list[SampleRecord] | None = field(default=None, repr=False)
    """Per-sample records in the run's order; None until :attr:`samples` first loads them."""
    loader: Callable[[], list[SampleRecord]] | None = field(default=None, repr=False)
    """Reads the records (the reader sets it), so reading many runs' summaries stays cheap."""

    @property
    def samples(self) -> list[SampleRecord]:
        """The per-sample records (read from ``records.jsonl`` when the log came from disk)."""
        if self.records is None:
            self.records = self.loader() if self.loader is not None else []
        return self.records

    @property
    def complete(self) -> bool:
        return self.completeness.complete

    @property
    def total_usage(self) -> RoleUsage:
        total = RoleUsage()
        for usage in self.usage.values():
            total = total + usage
        return total

    def typed(self) -> Iterator[tuple[str, str, Any]]:
        """(key, type, value) of every typed value of the results."""
        for values in self.results.values():
            for key, value in values.items():
                if isinstance(value, Recall):
                    yield key, RECALL, value
                elif (
                    isinstance(value, Mapping)
                    and value
                    and all(isinstance(v, Recall) for v in value.values())
                ):
                    yield key, RECALL_BY_JUDGE, value

    @property
    def recall_by_judge(self) -> dict[str, Recall]:
        """Each judge's recall (the first judge first); empty when no metric gave one."""
        found: dict[str, Recall] = {}
        for _, kind, value in self.typed():
            if kind == RECALL_BY_JUDGE:
                for judge, recall in value.items():
                    found.setdefault(judge, recall)
            else:
                found.setdefault(value.judge, value)
        return found

    @property
    def recall(self) -> Recall | None:
        """The first judge's recall."""
        return next(iter(self.recall_by_judge.values()), None)

    def summary(self) -> dict[str, Any]:
        """The JSON form of the log without its records: the content of metrics.json."""
        total = self.total_usage
        form: dict[str, Any] = {
            "schema_version": self.schema_version,
            **dataclasses.asdict(self.completeness),
            "calls_made": total.calls_made,
            "calls_cached": total.calls_cached,
            "tokens": {"input": total.input_tokens, "output": total.output_tokens},
        }
        if total.cost_usd is not None:
            form["cost_usd"] = {
                "estimated": total.cost_usd,
                "calls_priced": total.calls_priced,
                "calls_unpriced": total.calls_unpriced,
            }
        form["usage"] = {role: dataclasses.asdict(u) for role, u in self.usage.items()}
        types = {key: kind for key, kind, _ in self.typed()}
        for values in self.results.values():
            for key, value in values.items():
                form[key] = _plain(value)
        form["results"] = {
            name: {key: types.get(key, "json") for key in values}
            for name, values in self.results.items()
        }
        if self.strategy is not None:
            form["strategy"] = self.strategy
        form["judges"] = self.judges
        if self.provenance is not None:
            form["provenance"] = self.provenance.to_dict()
        if self.source is not None:
            form["source"] = self.source
        return form

    def samples_df(self) -> pd.DataFrame:
        """One row per sample: id, emotion, status, answer, error, each judge's score, and the
        calls and tokens of its trace (needs pandas: ``pip install 'eicore[pandas]'``)."""
        from eicore.log.frames import samples_frame

        return samples_frame(self)


def _plain(value: Any) -> Any:
    """A result value as JSON: typed values by their dict form."""
    if isinstance(value, Recall):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


KNOWN = frozenset(
    {
        "schema_version", "complete", "n_samples", "n_answered", "n_failed", "errors",
        "calls_made", "calls_cached", "tokens", "cost_usd", "usage", "results", "strategy",
        "judges", "provenance", "source",
    }
)  # fmt: skip
"""Keys of metrics.json that are the log's own, not a metric's."""


def from_summary(
    data: Mapping[str, Any], where: str = "metrics.json", config: dict[str, Any] | None = None
) -> RunLog:
    """The log of a metrics.json (records read later from beside it, if any).

    A metrics.json from before the typed log (no ``schema_version``) is read compatibly: its
    totals become the usage of one role ``all``, and ``recall``/``recall_by_judge`` the
    ``trigger_recall`` results, the only recall metric there was.
    """
    version = data.get("schema_version")
    if version is not None and (not isinstance(version, int) or version > SCHEMA_VERSION):
        raise RunLogError(
            f"{where}: schema_version {version!r} is newer than this eicore reads "
            f"({SCHEMA_VERSION}): upgrade eicore"
        )
    try:
        completeness = Completeness(
            bool(data.get("complete", False)),
            int(data.get("n_samples", 0)),
            int(data.get("n_answered", 0)),
            int(data.get("n_failed", 0)),
            dict(data.get("errors") or {}),
        )
        if version is None:
            usage, results = _legacy(data)
        else:
            usage = {r: RoleUsage(**u) for r, u in (data.get("usage") or {}).items()}
            results = {
                name: {key: _typed(data.get(key), kind) for key, kind in keys.items()}
                for name, keys in (data.get("results") or {}).items()
            }
        provenance = data.get("provenance")
        return RunLog(
            completeness=completeness,
            usage=usage,
            results=results,
            judges=list(data.get("judges") or []),
            strategy=data.get("strategy"),
            provenance=Provenance.from_dict(provenance) if provenance else None,
            source=data.get("source"),
            config=config,
            schema_version=SCHEMA_VERSION if version is None else version,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise RunLogError(f"{where}: not an eicore run log ({exc})") from None


def _typed(value: Any, kind: str) -> Any:
    if kind == RECALL:
        return Recall.from_dict(value)
    if kind == RECALL_BY_JUDGE:
        return {judge: Recall.from_dict(r) for judge, r in value.items()}
    return value


def _legacy(data: Mapping[str, Any]) -> tuple[dict[str, RoleUsage], dict[str, dict[str, Any]]]:
    tokens = data.get("tokens") or {}
    cost = data.get("cost_usd") or {}
    usage = {
        "all": RoleUsage(
            int(data.get("calls_made", 0)),
            int(data.get("calls_cached", 0)),
            int(tokens.get("input", 0)),
            int(tokens.get("output", 0)),
            cost.get("estimated"),
            int(cost.get("calls_priced", 0)),
            int(cost.get("calls_unpriced", 0)),
        )
    }
    rest = {k: v for k, v in data.items() if k not in KNOWN}
    recall: dict[str, Any] = {}
    if isinstance(rest.get("recall_by_judge"), Mapping):
        recall["recall_by_judge"] = _typed(rest.pop("recall_by_judge"), RECALL_BY_JUDGE)
    if isinstance(rest.get("recall"), Mapping):
        recall["recall"] = Recall.from_dict(rest.pop("recall"))
    results = {"trigger_recall": recall} if recall else {}
    if rest:
        results["unnamed"] = rest
    return usage, results
