"""The ``eicore`` command's entry point, outside the ``eicore`` package so that nothing is
imported before Ctrl-C is handled: an interrupt at any moment, even while eicore and its
dependencies are still being imported, ends the command with one line and exit status 130."""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading

INTERRUPTED = "eicore: interrupted; finished samples are saved, run the same command to resume"


def main() -> None:
    """The command, started with the garbage collector off (each command turns it on where
    its work begins: :data:`eicore.commands.cli.COLLECTS_ITSELF`). Start-up makes a few hundred
    thousand objects that live as long as the process (modules, classes, configs, an SDK's
    types), and the collector's passes over them, about every 700 allocations, free nothing:
    that was ~0.2 s of CPU before the first model call of `eicore run model=openai`."""
    gc.disable()
    try:
        try:
            from eicore.commands.cli import main as command  # noqa: TID251 - the core's entry point

            command()
        except KeyboardInterrupt:
            interrupted()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    signal.signal(signal.SIGINT, _exit_interrupted)  # Ctrl-C while the process shuts down
    exit_now(code)


def exit_now(code: int | str | None) -> None:
    """Exit with ``code`` as ``SystemExit(code)`` would, without the interpreter's teardown:
    freeing every module and object one by one takes ~0.3 s of CPU (0.5-1 s on a busy machine)
    once an SDK's thousands of classes are imported, and the run is saved by then. What the
    teardown would run still runs first: threads are joined, atexit handlers called, stdout
    and stderr flushed."""
    shutdown = getattr(threading, "_shutdown", None)  # what the interpreter calls: joins threads
    if shutdown is None:
        raise SystemExit(code)
    shutdown()
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(status)


def interrupted() -> None:
    """Say what an interrupt kept (and which provider batches still run), and exit 130 (a
    second Ctrl-C meanwhile is ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    batches = sys.modules.get("eicore.run.batches")  # loaded: provider batches may be pending
    line = batches.interrupted_message() if batches is not None else None
    print(line or INTERRUPTED, file=sys.stderr, flush=True)
    raise SystemExit(130) from None


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)


if __name__ == "__main__":
    main()
