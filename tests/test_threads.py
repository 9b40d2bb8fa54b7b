"""The CPU thread policy: the budget from affinity, cgroup quotas, SLURM and explicit settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eicore.run import threads
from eicore.run.settings import ConfigError, run_settings
from eicore.run.threads import CPUBudget, available_cpus, cgroup_cpus


def test_affinity_alone_decides() -> None:
    assert available_cpus({}, 6, None) == CPUBudget(6, "affinity")


def test_the_tightest_limit_wins_and_is_named() -> None:
    assert available_cpus({"SLURM_CPUS_PER_TASK": "3"}, 64, None) == CPUBudget(
        3, "SLURM_CPUS_PER_TASK"
    )
    assert available_cpus({"SLURM_CPUS_PER_TASK": "8"}, 64, (2.0, "cgroup cpu.max")) == CPUBudget(
        2, "cgroup cpu.max"
    )
    assert available_cpus({}, 1, (4.0, "cgroup cpu.max")) == CPUBudget(1, "affinity")


def test_a_fractional_quota_rounds_up_and_never_to_zero() -> None:
    assert available_cpus({}, 8, (1.5, "cgroup cpu.max")).threads == 2
    assert available_cpus({}, 8, (0.2, "cgroup cpu.max")).threads == 1
    assert available_cpus({}, 8, (2.0, "cgroup cpu.max")).threads == 2


def test_the_users_omp_setting_is_kept_and_bad_values_ignored() -> None:
    assert available_cpus({"OMP_NUM_THREADS": "5"}, 2, None) == CPUBudget(5, "OMP_NUM_THREADS")
    assert available_cpus({"OMP_NUM_THREADS": "x", "SLURM_CPUS_PER_TASK": "0"}, 2, None) == (
        CPUBudget(2, "affinity")
    )


def test_nothing_known_falls_back_to_the_cpu_count() -> None:
    assert available_cpus({}, None, None) == CPUBudget(os.cpu_count() or 1, "cpu_count")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_cgroup_v2_reads_the_process_cgroup_and_its_ancestors(tmp_path: Path) -> None:
    _write(tmp_path / "cpu.max", "max 100000\n")
    _write(tmp_path / "job" / "cpu.max", "300000 100000\n")
    _write(tmp_path / "job" / "step" / "cpu.max", "max 100000\n")
    assert cgroup_cpus(tmp_path, "0::/job/step\n") == (3.0, "cgroup cpu.max")
    assert cgroup_cpus(tmp_path, "0::/\n") is None  # "max": no quota


def test_cgroup_v1_reads_the_cfs_quota(tmp_path: Path) -> None:
    folder = tmp_path / "cpu,cpuacct" / "docker" / "abc"
    _write(folder / "cpu.cfs_quota_us", "150000\n")
    _write(folder / "cpu.cfs_period_us", "100000\n")
    membership = "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n"
    assert cgroup_cpus(tmp_path, membership) == (1.5, "cgroup cfs_quota")
    _write(folder / "cpu.cfs_quota_us", "-1\n")  # unlimited
    assert cgroup_cpus(tmp_path, membership) is None


def test_no_cgroup_files_mean_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpus(tmp_path, "0::/somewhere\n1:cpu:/x\n") is None
    _write(tmp_path / "cpu.max", "garbage")
    assert cgroup_cpus(tmp_path, "0::/\n") is None


def test_run_threads_is_checked() -> None:
    from omegaconf import OmegaConf

    assert run_settings(OmegaConf.create({"run": {"threads": 3}})).threads == 3
    with pytest.raises(ConfigError, match="run.threads"):
        run_settings(OmegaConf.create({"run": {"threads": 0}}))


def test_the_budget_reaches_the_environment_and_torch_in_a_fresh_process() -> None:
    """run.threads=1 sets the BLAS/OpenMP variables and torch's pools (a child process, so
    this process's torch is left alone)."""
    pytest.importorskip("torch")
    code = (
        "import os\n"
        "from eicore.run import threads\n"
        "threads.set_threads(1)\n"
        "import torch\n"
        "from eicore import cpu_threads\n"
        "assert cpu_threads() == 1\n"
        "print(os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'],"
        " torch.get_num_threads(), torch.get_num_interop_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "1", "1", "1"]


def test_an_explicit_budget_replaces_the_detected_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads._Policy, "explicit", None)
    monkeypatch.setattr(threads._Policy, "detected", CPUBudget(7, "affinity"))
    for name in threads.POOL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # not loaded: only the environment is set
    assert threads.budget() == CPUBudget(7, "affinity")
    assert threads.set_threads(2) == CPUBudget(2, "run.threads")
    assert os.environ["MKL_NUM_THREADS"] == "2"
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_threads(0)
    threads.set_threads(None)
    assert threads.budget() == CPUBudget(7, "affinity")
