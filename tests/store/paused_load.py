"""`minqing load` stopped at a named point of its work, for tests that must not depend on the machine's speed.

`PausedLoad(config, phase)` runs this file as a child process: it wraps the function that marks `phase`, then
runs the real CLI (`minqing load --config ...`). When the load reaches the phase it writes the phase's name on
a pipe and blocks reading a line from its stdin. The test waits for that line (no timing: it is there when
the load is there), then either SIGKILLs the load (a crash at exactly that point) or lets it go on (`go()`)
while doing something else meanwhile: another load, which must be refused by the lock, or a read.

Only test code is wrapped, around module-level names the production code looks up at call time; a load that
never reaches its phase (the wrapped name renamed, a phase that does not happen from this start) fails the test
with the child's output instead of passing silently.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]
SAFETY_SECONDS = 600  # only turns a hang into a failure; nothing waits this long when things work

PHASES = {
    "locked": "the lock is taken; the stale working copy, if any, is still there",
    "copying": "half of the published store is copied into the working copy",
    "copied": "the working copy is a whole copy of the published store, not yet opened",
    "between files": "the first file is committed in the working copy, the next not started",
    "in a file's transaction": "the second file's rows are merged in its open transaction",
    "rollups refreshed": "the rollups are refreshed, the working copy not yet checkpointed",
    "before the swap": "the working copy is complete and closed, not yet renamed over the published store",
    "after the swap": "the working copy is renamed over the published store; the directory not yet synced",
}


class Lines:
    """Lines from a file descriptor, each waited for with select (never a sleep); EOF gives ''."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer, self.closed = fd, b"", False

    def next(self, what: str, timeout: float = SAFETY_SECONDS) -> str:
        while b"\n" not in self.buffer and not self.closed:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                raise AssertionError(f"nothing from {what} in {timeout} s: it hangs")
            chunk = os.read(self.fd, 1 << 16)
            self.closed = not chunk
            self.buffer += chunk
        if b"\n" not in self.buffer:
            line, self.buffer = self.buffer, b""
            return line.decode()
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode() + "\n"


class PausedLoad:
    """`minqing load --config config` in a child process that stops at `phase` (a key of PHASES)."""

    def __init__(self, config: Path, phase: str, *, log: Path) -> None:
        assert phase in PHASES, phase
        self.phase, self.log = phase, log
        read, write = os.pipe()
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, __file__, phase, str(write), "load", "--config", str(config)], cwd=REPO,
                stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, pass_fds=(write,))
        os.close(write)
        self.events = Lines(read)
        self._read: int | None = read

    def paused(self) -> None:
        """Return once the load stands at its phase; fail when it ends without reaching it."""
        line = self.events.next(f"the load paused at {self.phase!r}")
        if line.strip() != self.phase:
            code = self.process.wait(timeout=SAFETY_SECONDS)
            raise AssertionError(f"the load ended (exit code {code}) without reaching {self.phase!r}:\n"
                                 f"{self.log.read_text(errors='replace')[-3000:]}")

    def go(self) -> int:
        """Let the paused load go on to its end; its exit code."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.close()
        return self.wait()

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.wait()

    def wait(self) -> int:
        code = self.process.wait(timeout=SAFETY_SECONDS)
        if self._read is not None:
            os.close(self._read)
            self._read = None
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def __enter__(self) -> "PausedLoad":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process.poll() is None:  # a failing test: never leave the child behind
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------- the child


def _install(phase: str, pause: Any) -> None:
    """Wrap the module-level function that marks `phase` so that it calls `pause()` there."""
    import shutil

    import etl.load as load
    import store.publish as publish

    if phase == "locked":
        exclusive = publish._exclusive

        @contextmanager
        def locked(*args: Any, **kwargs: Any) -> Iterator[None]:
            with exclusive(*args, **kwargs):
                pause()
                yield

        publish._exclusive = locked
    elif phase in ("copying", "copied"):
        copyfile = shutil.copyfile

        def copying(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if not str(dst).endswith(".loading"):
                return copyfile(src, dst, *args, **kwargs)
            if phase == "copying":
                with open(src, "rb") as source, open(dst, "wb") as target:
                    target.write(source.read(os.path.getsize(src) // 2))
                pause()
            done = copyfile(src, dst, *args, **kwargs)
            if phase == "copied":
                pause()
            return done

        shutil.copyfile = copying
    elif phase == "between files":
        load_file, calls = load.load_file, []

        def loading(*args: Any, **kwargs: Any) -> Any:
            if calls:
                pause()
            calls.append(1)
            return load_file(*args, **kwargs)

        load.load_file = loading
    elif phase == "in a file's transaction":
        merge_rows, calls = load.merge_rows, []

        def merging(*args: Any, **kwargs: Any) -> Any:
            counts = merge_rows(*args, **kwargs)
            calls.append(1)
            if len(calls) == 2:
                pause()
            return counts

        load.merge_rows = merging
    elif phase == "rollups refreshed":
        refresh_rollups = load.refresh_rollups

        def refreshed(*args: Any, **kwargs: Any) -> Any:
            done = refresh_rollups(*args, **kwargs)
            pause()
            return done

        load.refresh_rollups = refreshed
    elif phase == "before the swap":
        swap = publish._swap

        def swapping(*args: Any, **kwargs: Any) -> Any:
            pause()
            return swap(*args, **kwargs)

        publish._swap = swapping
    elif phase == "after the swap":
        replace = os.replace

        def replaced(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            replace(src, dst, *args, **kwargs)
            if str(src).endswith(".loading"):
                pause()

        os.replace = replaced
    else:  # pragma: no cover
        raise SystemExit(f"unknown phase {phase!r}")


def _main(phase: str, fd: int, args: list[str]) -> None:
    sys.path.insert(0, str(REPO))
    reached: list[str] = []

    def pause() -> None:
        if reached:
            return
        reached.append(phase)
        os.write(fd, f"{phase}\n".encode())
        if not sys.stdin.readline():  # the test went away without a word: do not go on alone
            os._exit(3)

    _install(phase, pause)
    from minqing.cli import main

    main(args=args, prog_name="minqing")


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
