"""Runs the project's workflow with Snakemake's real CLI on the tiny config (used by the e2e tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = ROOT / "tests" / "e2e" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 1500, env: dict | None = None
):
    """Run the project's workflow on the tiny config in ``workdir``; return the CompletedProcess.

    ``env`` replaces the process environment (the SLURM test points Snakemake at its cluster).
    """
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(TINY_CONFIG),
        *args,
    ]
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-8000:]}"
        )
    return result
