"""Replacing an index folder whole, and finishing a replacement a crash interrupted.

A new base is written into ``<folder>.tmp-<pid>-<n>`` and swapped in with two renames:
``folder -> <folder>.old-<pid>``, then ``tmp -> folder`` (POSIX cannot swap two folders in
one step). Between the two there is no ``folder``; :func:`recover` puts the old one back, and
it runs wherever the folder is first looked at, never only when an index is loaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from rag.index.lock import held_here, writer_alive
from rag.index.wal import crash_point, fsync_dir

logger = logging.getLogger(__name__)

# How long a reader waits for a live writer to finish a swap it finds half done.
SWAP_WAIT_S = 5.0


def temporary_folder(folder: Path) -> Path:
    tmp = folder.parent / f"{folder.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir(parents=True)
    return tmp


def swap_in(new: Path, folder: Path) -> None:
    """Make ``new`` (complete and synced) the folder, then remove the previous one."""
    old = folder.parent / f"{folder.name}.old-{os.getpid()}"
    if old.exists():
        shutil.rmtree(old)
    crash_point("swap-before")
    if folder.exists():
        os.rename(folder, old)
        crash_point("swap-between-renames")
    os.rename(new, folder)
    fsync_dir(folder.parent)
    crash_point("swap-after")
    shutil.rmtree(old, ignore_errors=True)


def recover(folder: str | Path) -> None:
    """Finish what a crashed writer left, if no live writer is at work on ``folder``.

    Puts back the previous folder when a crash came between the two renames of a swap, and
    removes leftover ``.tmp-*`` and ``.old-*`` copies. Safe to call from a reader: while
    another process holds the writer lock, its in-flight swap is its own to finish.
    """
    folder = Path(folder)
    if not folder.parent.exists():
        return
    if writer_alive(folder) and not held_here(folder):
        # Its swap may be between the two renames: give it a moment to put the folder back.
        deadline = time.monotonic() + SWAP_WAIT_S
        while not folder.exists() and time.monotonic() < deadline:
            if not list(folder.parent.glob(f"{folder.name}.old-*")):
                break
            time.sleep(0.05)
        return
    olds = sorted(folder.parent.glob(f"{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    olds = [p for p in olds if (p / "manifest.json").exists()]
    if not folder.exists() and olds:
        logger.warning("restoring %s from %s after an interrupted save", folder, olds[-1])
        os.rename(olds[-1], folder)
        fsync_dir(folder.parent)
    stale = [
        *folder.parent.glob(f"{folder.name}.old-*"),
        *folder.parent.glob(f"{folder.name}.tmp-*"),
    ]
    for path in stale:
        if folder.exists():
            logger.info("removing %s, left by an interrupted save", path)
            shutil.rmtree(path, ignore_errors=True)
