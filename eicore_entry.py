"""The ``eicore`` command's entry point, outside the ``eicore`` package so that nothing is
imported before Ctrl-C is handled: an interrupt at any moment, even while eicore and its
dependencies are still being imported, ends the command with one line and exit status 130."""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = "eicore: interrupted; finished samples are saved, run the same command to resume"


def main() -> None:
    try:
        from eicore.commands.cli import main as command  # noqa: TID251 - the core's own entry point

        command()
    except KeyboardInterrupt:
        interrupted()
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, _exit_interrupted)  # Ctrl-C while the interpreter shuts down


def interrupted() -> None:
    """Say what an interrupt kept, and exit 130 (a second Ctrl-C meanwhile is ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(INTERRUPTED, file=sys.stderr, flush=True)
    raise SystemExit(130) from None


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)


if __name__ == "__main__":
    main()
