"""The run viewer: ``report.html`` for run directories, ``eicore view`` and annotation review."""

from eicore.report.html import write_report

__all__ = ["write_report"]
