"""eicore as an installed copy starts: with its modules' bytecode written.

pip writes the bytecode of a package it installs; an editable install (a checkout, as here)
has none until a module is first imported, and with ``PYTHONDONTWRITEBYTECODE`` set (as on
this machine) it never has: every start compiles every eicore module again, ~0.2 s that no
installed eicore spends, while the SDKs it is compared with are installed. The benchmarks call
:func:`byte_compile` first.
"""

from __future__ import annotations

import compileall
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path


def byte_compile() -> list[str]:
    """Write the bytecode of eicore, its entry point and every installed plugin's package
    (where it is missing or stale); returns the modules' names."""
    names = {
        "eicore",
        "eicore_entry",
        *(ep.module.split(".")[0] for ep in entry_points(group="eicore")),
    }
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            compileall.compile_dir(origin.parent, quiet=1)
        else:
            compileall.compile_file(origin, quiet=1)
    return sorted(names)
