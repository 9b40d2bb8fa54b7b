"""The ``eicore`` command line and the core's own subcommands (``cache``, ``new-plugin``)."""
