"""The write-ahead log: every acknowledged write since the last compaction, one line each.

An index folder holds a compacted base (the chunk store and both search structures) and
``wal.jsonl``, the additions and deletions made since, in order (SQLite's WAL and Lucene's
segments-plus-commit at file scale). A write appends one line and fsyncs it before it is
acknowledged; loading replays the lines over the base; compaction writes a new base and starts
an empty log. A line is ``<crc32 hex> <json>``: a crash mid-append leaves a torn last line
without its newline or checksum, which was never acknowledged and is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import BinaryIO

from rag.errors import IndexMismatchError

logger = logging.getLogger(__name__)

LOG_NAME = "wal.jsonl"


def crash_point(name: str) -> None:
    """Does nothing; the crash tests replace it in a child process to die at ``name``."""


def encode(record: dict) -> bytes:
    payload = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def read_log(path: Path) -> tuple[list[dict], int]:
    """The records of a log and the length in bytes of its intact part.

    Raises:
        IndexMismatchError: A damaged line is followed by intact ones (not a torn append, so
            not something a crash leaves: the disk or someone's editor changed the file).
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records: list[dict] = []
    good = 0
    for line in data.splitlines(keepends=True):
        record = _decode(line)
        if record is None:
            rest = data[good + len(line) :]
            if any(_decode(later) is not None for later in rest.splitlines(keepends=True)):
                raise IndexMismatchError(
                    f"{path} is damaged at byte {good}; restore it from a backup or rebuild "
                    "the index with `rag ingest --rebuild`"
                )
            logger.warning("dropping a torn write at the end of %s (never acknowledged)", path)
            break
        records.append(record)
        good += len(line)
    return records, good


def _decode(line: bytes) -> dict | None:
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        return json.loads(payload)
    except ValueError:
        return None


class WriteLog:
    """Appends records to ``wal.jsonl`` durably. One writer at a time (see ``lock``)."""

    def __init__(self, folder: Path, records: int = 0, size: int = 0) -> None:
        self.path = folder / LOG_NAME
        self.records = records
        self.size = size
        self._file: BinaryIO | None = None

    def append(self, record: dict) -> None:
        """Write one record and return only once it is on disk."""
        f = self._open()
        f.write(encode(record))
        f.flush()
        crash_point("log-written")
        os.fsync(f.fileno())
        self.records += 1
        self.size = f.tell()
        crash_point("log-synced")

    def _open(self) -> BinaryIO:
        if self._file is None:
            created = not self.path.exists()
            f = open(self.path, "ab")  # noqa: SIM115 (held open for the writer's lifetime)
            # Drop a torn tail left by a crash, so the next record starts on a line of its own.
            f.truncate(self.size)
            f.seek(self.size)
            if created:
                fsync_dir(self.path.parent)
            self._file = f
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a new or renamed file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
