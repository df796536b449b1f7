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


@pytest.fixture(scope="module")
def index(bundled_docs):
    """The bundled page indexed with the fast fake encoder (read-only in the tests using it)."""
    from rag.embedding.fake import HashEncoder
    from rag.index.store import Index

    index = Index(HashEncoder())
    index.add_documents(bundled_docs)
    return index


@pytest.fixture(scope="module")
def documents(index):
    return index.documents


@pytest.fixture(scope="module")
def fake_engine(tmp_path_factory):
    """A writable engine over the bundled page with the fake encoder (fast API tests).

    The answerability thresholds are calibrated for e5's cosines, which the fake encoder's
    hashed vectors do not resemble, so they are set to zero here: every question is answered.
    """
    from rag.embedding.fake import HashEncoder
    from rag.engine import Engine, EngineConfig
    from rag.search import SearchSettings
    from rag.search.answerability import AnswerabilityThresholds

    config = EngineConfig(
        index_dir=tmp_path_factory.mktemp("fake-index") / "default",
        corpus=(BUNDLED_PAGE,),
        search=SearchSettings(thresholds=AnswerabilityThresholds(0.0, 0.0, 0.0, 0.0, 0.0)),
    )
    engine = Engine(config, encoder=HashEncoder())
    engine.warm_up()
    return engine


def _model_cache() -> Path:
    from api.settings import Settings

    return Settings.from_env().model_cache


@pytest.fixture(scope="session")
def real_encoder():
    """The real default model (converted once into the model cache, reused across runs)."""
    from rag.embedding.encoder import default_encoder

    encoder = default_encoder(_model_cache())
    encoder.warm_up()
    return encoder


@pytest.fixture(scope="session")
def real_engine(real_encoder, tmp_path_factory):
    """An engine over the bundled page with the real model, index in a temporary folder."""
    from rag.engine import Engine, EngineConfig

    config = EngineConfig(
        index_dir=tmp_path_factory.mktemp("index") / "default", corpus=(BUNDLED_PAGE,)
    )
    engine = Engine(config, encoder=real_encoder)
    engine.warm_up()
    return engine


class LiveServer:
    """A real uvicorn server in a background thread, on a free local port."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(engine, **settings):
    """Start a live server for ``engine`` with the given setting overrides."""
    from api.app import create_app
    from api.settings import Settings

    return LiveServer(create_app(Settings().with_overrides(**settings), engine=engine))
