"""Shared fixtures: the bundled page, its parsed documents, and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_PAGE = ROOT / "data" / "articles.txt"
REARRANGED_PAGE = ROOT / "tests" / "data" / "page_rearranged.txt"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"


@pytest.fixture(scope="session")
def bundled_docs():
    from rag.parsing import load_documents

    return load_documents([BUNDLED_PAGE])
