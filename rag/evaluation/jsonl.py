"""Reading JSONL files line by line, with errors that name the file and the line.

Shared by the BEIR loader and the question-set loader, so both report a missing file, bad
UTF-8, malformed JSON and a line that is not an object in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import SourceError


def read_lines(path: Path, missing: str = "file not found") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a UTF-8 file.

    Raises:
        SourceError: The file is missing (``"{path}: {missing}"``), unreadable or not UTF-8.
    """
    if not path.is_file():
        raise SourceError(f"{path}: {missing}")
    lineno = 0
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    yield lineno, line
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}:{lineno + 1}: not valid UTF-8 ({e.reason})") from e
    except OSError as e:
        raise SourceError(f"{path}: cannot read ({e.strerror or e})") from e


def read_records(
    path: Path, missing: str = "file not found"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line, a JSON object.

    Raises:
        SourceError: As :func:`read_lines`, or a line is not JSON or not an object.
    """
    for lineno, line in read_lines(path, missing):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise SourceError(f"{path}:{lineno}: malformed JSON ({e.msg})") from e
        if not isinstance(record, dict):
            raise SourceError(
                f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
            )
        yield lineno, record
