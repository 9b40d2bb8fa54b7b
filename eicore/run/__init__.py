"""One evaluation: its settings, the loop that takes samples through a strategy and judges, the
model calls and their cache, concurrency and threads, re-scoring, merging shards, and the Hydra
callbacks that make and record run directories."""
