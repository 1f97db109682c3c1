# models stage rules: see docs/ARCHITECTURE.md (filled in by the models work).
