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
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: int = 1500,
    env: dict | None = None,
    configfiles: tuple[Path, ...] = (TINY_CONFIG,),
):
    """Run the project's workflow on the tiny config in ``workdir``; return the CompletedProcess.

    ``env`` replaces the process environment (the SLURM test points Snakemake at its cluster);
    ``configfiles`` are merged in order (the SLURM test adds its overlay to the tiny config).
    """
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
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


DEFAULT_E2E = "FMAGENRE_DEFAULT_E2E"
DEFAULT_E2E_REASON = (
    f"the default run takes ~10 min on 2 cores: set {DEFAULT_E2E}=1 "
    "(or to a finished default run's directory)"
)


def default_run(tmp_path: Path) -> Path:
    """The default run's directory: ``$FMAGENRE_DEFAULT_E2E`` when it names one, else a fresh run of
    ``config/config.yaml`` in ``tmp_path``."""
    setting = os.environ[DEFAULT_E2E]
    if Path(setting).is_dir():
        return Path(setting)
    subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
        + ["--cores", "2"],
        check=True,
        capture_output=True,
        timeout=3600,
        cwd=ROOT,
    )
    return tmp_path
