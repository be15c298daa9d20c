"""Read one file with etl.readers.read_raw in a child process, under a timeout, and report its peak memory.

Run as a script (`python isolated.py PATH FORMAT`) it prints one JSON line: rows read (or the UserError's
message), seconds spent reading, and the process's peak resident memory in MB. Any other exception ends it
with a traceback and a non-zero exit code, which `read_isolated` turns into a test failure.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def read_isolated(path: Path, fmt: str, *, timeout: float) -> dict[str, Any]:
    """The child's report; a hang past `timeout` or a crash fails the calling test with its output."""
    try:
        done = subprocess.run([sys.executable, __file__, str(path), fmt], capture_output=True, text=True,
                              timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"reading {path.name} did not finish within {timeout} s (a hang)") from None
    assert done.returncode == 0, f"reading {path.name} crashed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main(path: Path, fmt: str) -> None:
    sys.path.insert(0, str(REPO))
    from store.errors import UserError
    from etl.readers import read_raw

    baseline = _peak_mb()
    start = time.perf_counter()
    rows, error = None, None
    try:
        table = read_raw(path, fmt=fmt)
        rows = len(table.frame)
    except UserError as exc:
        error = str(exc)
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "error": error, "seconds": round(seconds, 2), "peak_mb": _peak_mb(),
                      "baseline_mb": baseline}))


def _peak_mb() -> int:
    """This process's peak resident memory. /proc's VmHWM starts afresh at exec; ru_maxrss may carry the parent's."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) // 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux, bytes on macOS


if __name__ == "__main__":
    _main(Path(sys.argv[1]), sys.argv[2])
