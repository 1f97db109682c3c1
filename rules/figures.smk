# figures stage rules: see docs/ARCHITECTURE.md (filled in by the figures work).
