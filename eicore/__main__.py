"""``python -m eicore``: the ``eicore`` command, for when its script is not on the PATH."""

from eicore.commands.cli import main

main()
