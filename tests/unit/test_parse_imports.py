"""The package code the rule files import stays light: every Snakemake start parses the workflow
(a dry run once, a SLURM job twice), and importing torch there took 2 of its 7 s (stop 19)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Builds librosa's numba cache first when it is cold (that build imports every numba module of
# librosa once); the probe below then sees the lazy import every later process gets.
import fmagenre.librosa_cache  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "scipy.stats", "librosa.core.audio", "librosa.beat")


def test_rule_files_import_no_heavy_module():
    sources = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
    imports = [
        line.strip()
        for path in sources
        for line in path.read_text().splitlines()
        if re.match(r"\s*(from|import) fmagenre\b", line)
    ]
    assert imports, "no package import found in the rule files"
    probe = "\n".join(
        [*imports, "import sys", f"print([m for m in {HEAVY!r} if m in sys.modules])"]
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "workflow" / "scripts")},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", f"rule files import {result.stdout.strip()}: {imports}"
