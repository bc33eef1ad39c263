"""Run every benchmark in turn (each prints its own figures and ratios against a same-run baseline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ["migrations_throughput.py", "fingerprint.py", "lint_throughput.py", "operator_scale.py"]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(path)], cwd=HERE).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
