"""`make bench`: run every bench/bench_*.py in turn and print their results side by side.

Each benchmark prints a human-readable table and, as its last line, one JSON object; this runner
collects those objects into results/bench.json as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    collected, failed = {}, []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], text=True, capture_output=True)
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr[-4000:], file=sys.stderr)
            failed.append(script.name)
            continue
        last = [line for line in result.stdout.splitlines() if line.startswith("{")]
        collected[script.stem] = json.loads(last[-1]) if last else {}
        print(f"({script.name} took {time.perf_counter() - start:.1f} s)")
    out = HERE.parent / "results" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # merged into what is there: a failed benchmark keeps its previous numbers
    previous = json.loads(out.read_text()) if out.is_file() else {}
    out.write_text(json.dumps({**previous, **collected}, indent=2) + "\n")
    print(f"\nwrote {out}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
