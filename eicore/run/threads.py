"""How many CPU threads eicore's torch and BLAS/OpenMP pools use: the CPUs this process may use.

torch and OpenMP size their pools from the machine's core count, not from what the process is
allowed: in a container with a CPU quota, a SLURM job given 2 of 64 cores, or a shared machine,
their threads outnumber the CPUs and spin against each other (a default run beside two busy
processes measured 298 s with torch's default threads and 122 s with one). The budget is, in
order: ``run.threads`` when set; else ``OMP_NUM_THREADS`` when the user set it; else the least
of the CPU affinity, the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``) and
``SLURM_CPUS_PER_TASK``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

POOL_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Variables the BLAS and OpenMP libraries read once, when they load."""

WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")
"""Idle OpenMP threads sleep instead of spinning: on a busy machine a spinning thread takes
the core a working one needs."""

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CPUBudget:
    """A thread count and what decided it."""

    threads: int
    source: str
    """``run.threads``, ``OMP_NUM_THREADS``, ``affinity``, ``cgroup cpu.max``,
    ``cgroup cfs_quota``, ``SLURM_CPUS_PER_TASK`` or ``cpu_count``."""


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _quota_v2(text: str) -> float | None:
    """CPUs from a ``cpu.max`` line: ``<quota> <period>`` or ``max <period>`` (no limit)."""
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def cgroup_cpus(
    root: Path = CGROUP_ROOT, membership: str | None = None
) -> tuple[float, str] | None:
    """The tightest CPU quota over the process's cgroup and its ancestors, or None.

    ``membership`` is the text of ``/proc/self/cgroup`` (read when None): v2 lines are
    ``0::<path>``, v1 lines ``<id>:<controllers>:<path>``.
    """
    if membership is None:
        membership = _read(Path("/proc/self/cgroup")) or ""
    quotas: list[tuple[float, str]] = []
    for line in membership.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        relative = Path(path.strip().lstrip("/"))
        folders = [relative, *relative.parents]
        if hierarchy == "0" and not controllers:  # v2: one tree, cpu.max at each level
            for folder in folders:
                text = _read(root / folder / "cpu.max")
                cpus = _quota_v2(text) if text else None
                if cpus is not None:
                    quotas.append((cpus, "cgroup cpu.max"))
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own tree
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                for folder in folders:
                    quota = _read(root / mount / folder / "cpu.cfs_quota_us")
                    period = _read(root / mount / folder / "cpu.cfs_period_us")
                    if quota and period:
                        cpus = _quota_v2(f"{quota.strip()} {period.strip()}")
                        if cpus is not None:
                            quotas.append((cpus, "cgroup cfs_quota"))
    return min(quotas) if quotas else None


def _affinity() -> int | None:
    getter: Callable[[int], set[int]] | None = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter else None


def available_cpus(
    environ: Mapping[str, str], affinity: int | None, cgroup: tuple[float, str] | None
) -> CPUBudget:
    """The CPUs a process may use, from its environment, its CPU affinity (a count) and its
    cgroup quota (:func:`cgroup_cpus`); :func:`detect` reads them from the system.

    A fractional quota rounds up (1.5 CPUs: two threads that together get 1.5 cores).
    """
    given = _positive_int(environ.get("OMP_NUM_THREADS"))
    if given is not None:
        return CPUBudget(given, "OMP_NUM_THREADS")
    limits: list[tuple[int, str]] = []
    if affinity:
        limits.append((affinity, "affinity"))
    if cgroup is not None:
        limits.append((max(1, math.ceil(cgroup[0] - 1e-9)), cgroup[1]))
    slurm = _positive_int(environ.get("SLURM_CPUS_PER_TASK"))
    if slurm is not None:
        limits.append((slurm, "SLURM_CPUS_PER_TASK"))
    if not limits:
        limits.append((os.cpu_count() or 1, "cpu_count"))
    threads, source = min(limits, key=lambda limit: limit[0])
    return CPUBudget(threads, source)


def detect() -> CPUBudget:
    """:func:`available_cpus` of this process, read from the system now."""
    return available_cpus(os.environ, _affinity(), cgroup_cpus())


class _Policy:
    """The process's budget: detected once, replaced by :func:`set_threads`."""

    explicit: int | None = None
    detected: CPUBudget | None = None
    interop_done = False


def set_threads(threads: int | None) -> CPUBudget:
    """Fix the budget to ``threads`` (``run.threads``; None: detect) and apply it now."""
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    _Policy.explicit = threads
    return budget(apply=True)


def budget(apply: bool = False) -> CPUBudget:
    """The budget in force; with ``apply``, also set the pools (see :func:`cpu_threads`)."""
    if _Policy.explicit is not None:
        chosen = CPUBudget(_Policy.explicit, "run.threads")
    else:
        if _Policy.detected is None:
            _Policy.detected = detect()
        chosen = _Policy.detected
    if apply:
        _apply(chosen.threads, overwrite=_Policy.explicit is not None)
    return chosen


def _apply(threads: int, overwrite: bool) -> None:
    for name in POOL_ENV:
        if overwrite:
            os.environ[name] = str(threads)
        else:
            os.environ.setdefault(name, str(threads))
    os.environ.setdefault(*WAIT_POLICY)
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_num_threads"):  # absent, or still importing
        return
    if torch.get_num_threads() != threads:  # OpenMP's count is per calling thread
        torch.set_num_threads(threads)
    if not _Policy.interop_done:
        _Policy.interop_done = True
        try:  # allowed once, before torch has run any inter-op parallel work
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass


def cpu_threads() -> int:
    """The thread count eicore's CPU work uses, applied to the BLAS/OpenMP environment and,
    once torch is imported, to torch's intra- and inter-op pools.

    Call it before importing torch (the environment is read when the libraries load) and again
    right after, from the thread that runs torch (OpenMP counts threads per calling thread):
    cheap and idempotent.
    """
    return budget(apply=True).threads
