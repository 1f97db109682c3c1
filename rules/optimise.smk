# optimise stage rules: see docs/ARCHITECTURE.md (filled in by the optimise work).
