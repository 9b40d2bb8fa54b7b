"""A plugin that cannot even be imported: eicore must name it and load the others."""

raise ImportError("eicore_broken_import needs a library that is not installed (on purpose)")
