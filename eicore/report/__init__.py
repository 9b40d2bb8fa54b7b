"""What a reader sees of runs: one run's tables, the paper-shaped summary of many runs, plots,
and report.html."""
