"""One writer per index folder, across processes: a lock file holding the writer's pid.

The lock is an ``flock`` on ``<folder>.lock`` beside the folder (not inside it: compaction
renames the folder). The kernel drops it when its holder dies, however it dies, so a lock left
by a crashed writer never blocks anyone; the pid inside only names the holder in messages and
tells a new writer that it is taking over from one that did not exit cleanly.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import TextIO

from rag.errors import IndexLockedError

logger = logging.getLogger(__name__)

# Locks this process holds, by folder: flock would refuse a second one in the same process, and
# two writers in one process lose data as surely as in two.
_held: weakref.WeakValueDictionary[str, WriterLock] = weakref.WeakValueDictionary()
_held_guard = threading.Lock()


def lock_path(folder: Path) -> Path:
    return folder.parent / f"{folder.name}.lock"


class WriterLock:
    """The right to write one index folder; released by :meth:`release` or by exiting."""

    def __init__(self, folder: Path, file: TextIO) -> None:
        self.folder = folder
        self._file: TextIO | None = file

    @classmethod
    def acquire(cls, folder: str | Path) -> WriterLock:
        """Take the lock of ``folder`` or say who holds it.

        Raises:
            IndexLockedError: Another live writer (another process, or another engine in
                this one) holds it.
        """
        folder = Path(folder).absolute()
        key = str(folder)
        with _held_guard:
            if key in _held:
                raise IndexLockedError(
                    f"index folder {folder} is already open for writing in this process; "
                    "close the other engine first"
                )
            folder.parent.mkdir(parents=True, exist_ok=True)
            path = lock_path(folder)
            f = open(path, "a+", encoding="ascii")  # noqa: SIM115 (held while writing)
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise IndexLockedError(
                    f"index folder {folder} is being written by another process (pid {holder}, "
                    f"lock file {path}); stop it, or use a read-only server or another "
                    "--index-dir"
                ) from None
            f.seek(0)
            previous = f.read().strip()
            if previous.isdigit() and int(previous) != os.getpid():
                logger.warning(
                    "taking over the lock of %s from process %s, which did not release it",
                    folder,
                    previous,
                )
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            lock = cls(folder, f)
            _held[key] = lock
            return lock

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        """Give the lock up; the pid is cleared so the next writer does not warn."""
        with _held_guard:
            if self._file is None:
                return
            self._file.seek(0)
            self._file.truncate()
            self._file.flush()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
            _held.pop(str(self.folder), None)

    def __del__(self) -> None:
        # An engine dropped without close(): its file closes anyway, which releases the flock.
        if self._file is not None:
            self._file.close()


def held_here(folder: str | Path) -> bool:
    """True when this process holds the lock of ``folder``."""
    return str(Path(folder).absolute()) in _held


def writer_alive(folder: str | Path) -> bool:
    """True when some process (this one included) holds the lock of ``folder``."""
    folder = Path(folder).absolute()
    if held_here(folder):
        return True
    path = lock_path(folder)
    if not path.exists():
        return False
    with open(path, "a+", encoding="ascii") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False
