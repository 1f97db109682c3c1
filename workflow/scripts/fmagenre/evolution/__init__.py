"""Genre evolution: out-of-sample per-track measures, artist-cluster statistics, verdicts with q-values."""
