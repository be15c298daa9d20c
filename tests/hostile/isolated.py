"""Read one file with etl.readers.read_raw in a child process, under a safety timeout, and report what it cost.

Run as a script (`python isolated.py PATH FORMAT [count]`) it prints one JSON line: rows read (or the
UserError's message) and the process's peak resident memory in MB; with `count`, also the work the read did,
counted, never timed (see `count_work`). Any other exception ends it with a traceback and a non-zero exit
code, which `read_isolated` turns into a test failure. No result here depends on the machine's speed: the
timeout only turns a hang into a failure.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, SupportsIndex

REPO = Path(__file__).resolve().parents[2]
SAFETY_SECONDS = 600  # a hang fails after this; a read that works takes seconds even on a busy machine


def read_isolated(path: Path, fmt: str, *, count: bool = False, timeout: float = SAFETY_SECONDS) -> dict[str, Any]:
    """The child's report; a hang past `timeout` or a crash fails the calling test with its output."""
    try:
        done = subprocess.run([sys.executable, __file__, str(path), fmt, *(["count"] if count else [])],
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"reading {path.name} did not finish within {timeout} s (a hang)") from None
    assert done.returncode == 0, f"reading {path.name} crashed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


class CountingBytes(bytes):
    """The file's bytes, counting how many bytes their searches (find, count, index...) run over: a search that
    starts again from the top for every row (quadratic) shows here, however fast the machine is."""

    scanned = 0

    def _span(self, start: SupportsIndex | None, end: SupportsIndex | None) -> tuple[int, int]:
        first, last, _ = slice(start, end).indices(len(self))
        return first, max(first, last)

    def find(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        first, last = self._span(start, end)
        at = super().find(sub, first, last)
        CountingBytes.scanned += (at + len(sub) - first) if at >= 0 else last - first
        return at

    def index(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        at = self.find(sub, start, end)
        if at < 0:
            raise ValueError("subsection not found")
        return at

    def rfind(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        first, last = self._span(start, end)
        at = super().rfind(sub, first, last)
        CountingBytes.scanned += (last - at) if at >= 0 else last - first
        return at

    def rindex(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        at = self.rfind(sub, start, end)
        if at < 0:
            raise ValueError("subsection not found")
        return at

    def count(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        first, last = self._span(start, end)
        CountingBytes.scanned += last - first
        return super().count(sub, first, last)


def count_work(path: Path, fmt: str) -> dict[str, Any]:
    """Read `path` in this process, counting the work: `calls`, the Python and C function calls made (generator
    resumptions included), and `scanned`, the bytes the file's searches ran over. Both are counts, the same
    on any machine: compare them between inputs of n and 4n rows to see how the cost grows."""
    import etl.readers as readers
    from store.errors import UserError

    open_bytes = readers._open_bytes
    readers._open_bytes = lambda *args, **kwargs: CountingBytes(open_bytes(*args, **kwargs))
    calls = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            calls[0] += 1

    CountingBytes.scanned = 0
    rows, error = None, None
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        rows = len(readers.read_raw(path, fmt=fmt).frame)
    except UserError as exc:
        error = str(exc)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        readers._open_bytes = open_bytes
    return {"rows": rows, "error": error, "calls": calls[0], "scanned": CountingBytes.scanned}


def _main(path: Path, fmt: str, count: bool) -> None:
    sys.path.insert(0, str(REPO))
    from store.errors import UserError
    from etl.readers import read_raw

    baseline = _peak_mb()
    if count:
        outcome = count_work(path, fmt)
    else:
        outcome = {"rows": None, "error": None}
        try:
            outcome["rows"] = len(read_raw(path, fmt=fmt).frame)
        except UserError as exc:
            outcome["error"] = str(exc)
    print(json.dumps(outcome | {"peak_mb": _peak_mb(), "baseline_mb": baseline}))


def _peak_mb() -> int:
    """This process's peak resident memory. /proc's VmHWM starts afresh at exec; ru_maxrss may carry the parent's."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) // 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux, bytes on macOS


if __name__ == "__main__":
    _main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:] == ["count"])
