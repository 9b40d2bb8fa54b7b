"""Loaded for every test under the repository (the core's, the plugins', the example's).

A shell starts a background job (``cmd &``) with SIGINT ignored, and its children inherit that:
the ``eicore`` processes the Ctrl-C tests start would never see the SIGINT they are sent. A
handler of Python's own is not inherited (exec resets it to the default), so with one here every
child starts as it would from a terminal.
"""

from __future__ import annotations

import signal

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
