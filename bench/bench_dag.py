"""DAG scale: `snakemake -n` of the whole workflow on fma_full-sized metadata (no audio).

Generates FMA-shaped metadata for 106,574 tracks in 156 folders (fma_full's size) without audio,
runs the `track_table` checkpoint for real, then times a dry run of the whole DAG (≈156
extract_folder jobs plus the rest) and reports wall time, job count and the dry run's peak memory.
Target: under 15 s (issue 14). `--profile` also writes a cProfile of the dry run and prints its top
entries (where the time goes when it is slow).

    .venv/bin/python bench/bench_dag.py [--profile]

Prints a table, then one JSON line (collected by bench/run_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from fmagenre.data.synth import generate  # noqa: E402

N_TRACKS = 106_574
N_FOLDERS = 156
TARGET_S = 15.0


def _snakemake(work: Path, config: Path, *args: str, profile_to: Path | None = None):
    """Run Snakemake in ``work``; return (seconds, peak RSS in MiB, output text)."""
    command = [sys.executable]
    if profile_to:
        command += ["-m", "cProfile", "-o", str(profile_to)]
    command += [
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
        "--workflow-profile",
        "none",
        "--cores",
        "1",
        *args,
    ]
    log = work / "snakemake.out"
    with open(log, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if process.returncode != 0:
        raise SystemExit(
            f"snakemake {' '.join(args)} failed ({process.returncode}):\n{text[-6000:]}"
        )
    return seconds, usage.ru_maxrss / 1024, text


def _job_counts(text: str) -> dict[str, int]:
    """The dry run's `Job stats` table: {rule: count, ..., 'total': n}."""
    counts = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
        match = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if not match:
            break
        counts[match[1]] = int(match[2])
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the dry run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_dag_") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        generate(
            metadata_dir=work / "fma_metadata",
            audio_dir=work / "fma_full",
            preset="small",
            seed=0,
            faults=False,
            audio=False,
            n_tracks=N_TRACKS,
        )
        generate_s = time.perf_counter() - start
        config = work / "bench.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "dataset": {
                        "metadata_dir": str(work / "fma_metadata"),
                        "audio_dir": str(work / "fma_full"),
                        "subset": "full",
                        "synthetic": {"enabled": False},
                    }
                }
            )
        )

        table_s, table_mib, _ = _snakemake(work, config, "results/metadata/tracks.tsv")
        tracks = sum(1 for _ in open(work / "results/metadata/tracks.tsv")) - 1
        profile_to = work / "dryrun.prof" if args.profile else None
        dry_s, dry_mib, text = _snakemake(work, config, "-n", profile_to=profile_to)
        counts = _job_counts(text)
        if profile_to:
            print("top of the dry run's profile (cumulative):")
            pstats.Stats(str(profile_to)).sort_stats("cumulative").print_stats(25)

    result = {
        "tracks": tracks,
        "extract_folder_jobs": counts.get("extract_folder", 0),
        "jobs": counts.get("total", 0),
        "dry_run_s": round(dry_s, 2),
        "dry_run_peak_rss_mib": round(dry_mib, 1),
        "track_table_s": round(table_s, 2),
        "track_table_peak_rss_mib": round(table_mib, 1),
        "generate_metadata_s": round(generate_s, 2),
        "target_s": TARGET_S,
        "ok": dry_s < TARGET_S and counts.get("extract_folder") == N_FOLDERS and tracks == N_TRACKS,
    }
    print(f"{'fma_full-sized DAG (no audio)':<34}{'value':>12}")
    for key, value in result.items():
        print(f"  {key:<32}{value!s:>12}")
    print(
        "  jobs by rule: "
        + ", ".join(f"{rule}={n}" for rule, n in counts.items() if rule != "total")
    )
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
