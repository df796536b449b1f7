"""Settings: read from RAG_* variables, validated at start-up, overridden by flags."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api import cli
from api.settings import (
    BUNDLED_CORPUS,
    DEFAULT_INDEX_DIR,
    Settings,
    SettingsError,
    get_settings,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No RAG_* variable from the caller's shell leaks in; get_settings reads afresh."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_the_documented_ones():
    s = Settings.from_env()
    assert s.index_dir == DEFAULT_INDEX_DIR and s.corpus == (BUNDLED_CORPUS,)
    assert (s.fusion, s.ann, s.device, s.backend, s.runtime) == (
        "convex",
        "auto",
        "cpu",
        "faiss",
        "auto",
    )
    assert (s.host, s.port, s.api_key, s.cors_origins) == ("127.0.0.1", 8000, None, ())
    assert s.read_only is False and s.log_questions is False
    assert s.max_body_bytes == 1_000_000 and s.llm_base_url is None and s.llm_timeout == 30.0
    assert s.llm_translate_questions is True
    assert (s.chunk_size, s.chunk_overlap, s.rrf_k) == (300, 60, 60.0)


def test_variables_are_parsed_into_typed_values(monkeypatch):
    env = {
        "RAG_INDEX_DIR": "/tmp/idx",
        "RAG_CORPUS": os.pathsep.join(["a.txt", "b.jsonl"]),
        "RAG_CORS_ORIGINS": "http://a.org, http://b.org,",
        "RAG_FUSION": "rrf",
        "RAG_ANN": "hnsw",
        "RAG_DEVICE": "cuda:1",
        "RAG_PORT": "9001",
        "RAG_READ_ONLY": "yes",
        "RAG_LOG_QUESTIONS": "1",
        "RAG_API_KEY": "密钥",
        "RAG_LLM_TIMEOUT": "2.5",
        "RAG_LLM_MODEL": "",  # empty means the default
        "RAG_LLM_BASE_URL": "http://127.0.0.1:8080/v1/",
        "RAG_LLM_TRANSLATE_QUESTIONS": "false",
        "RAG_CHUNK_SIZE": "200",
        "RAG_COMPACT_AFTER": "50",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = get_settings()
    assert s.index_dir == Path("/tmp/idx") and s.corpus == (Path("a.txt"), Path("b.jsonl"))
    assert s.cors_origins == ("http://a.org", "http://b.org")
    assert (s.fusion, s.ann, s.device, s.port) == ("rrf", "hnsw", "cuda:1", 9001)
    assert s.read_only is True and s.log_questions is True and s.api_key == "密钥"
    assert s.llm_timeout == 2.5 and s.llm_model is None
    config = s.engine_config()
    assert config.search.fusion == "rrf" and config.ann == "hnsw" and config.read_only is True
    assert config.chunker.chunk_size == 200 and config.device == "cuda:1"
    assert config.compact_after == 50
    assert config.llm.base_url == "http://127.0.0.1:8080/v1" and config.llm.model == "default"
    assert config.llm.translate_questions is False


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("RAG_READ_ONLY", "enabled", "true or false"),
        ("RAG_LOG_QUESTIONS", "sometimes", "true or false"),
        ("RAG_FUSION", "magic", "'rrf' or 'convex'"),
        ("RAG_ANN", "annoy", "'auto', 'flat', 'hnsw' or 'ivf'"),
        ("RAG_BACKEND", "qdrant", "'faiss' or 'milvus'"),
        ("RAG_RUNTIME", "tensorrt", "'onnx', 'torch' or 'auto'"),
        ("RAG_DEVICE", "gpu", "cpu, cuda, cuda:N"),
        ("RAG_DEVICE", "cuda:x", "cpu, cuda, cuda:N"),
        ("RAG_PORT", "http", "valid integer"),
        ("RAG_PORT", "70000", "less than or equal to 65535"),
        ("RAG_MAX_BODY_BYTES", "0", "greater than or equal to 1"),
        ("RAG_LLM_TIMEOUT", "-1", "greater than 0"),
        ("RAG_COMPACT_AFTER", "0", "greater than or equal to 1"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable_and_the_accepted_values(
    monkeypatch, name, value, accepted
):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        get_settings()
    message = str(err.value)
    assert message.startswith(f"{name}={value!r}: ") and accepted in message


def test_every_bad_variable_is_named_at_once(monkeypatch):
    monkeypatch.setenv("RAG_FUSION", "magic")
    monkeypatch.setenv("RAG_READ_ONLY", "enabled")
    with pytest.raises(SettingsError, match="RAG_FUSION='magic'.*RAG_READ_ONLY='enabled'"):
        Settings.from_env()


def test_a_misspelt_variable_name_is_warned_about(monkeypatch, caplog):
    monkeypatch.setenv("RAG_READONLY", "true")
    with caplog.at_level(logging.WARNING, logger="api.settings"):
        assert Settings.from_env().read_only is False
    assert "RAG_READONLY" in caplog.text


def test_get_settings_is_read_once_until_cleared(monkeypatch):
    assert get_settings() is get_settings()
    monkeypatch.setenv("RAG_PORT", "9100")
    assert get_settings().port == 8000
    get_settings.cache_clear()
    assert get_settings().port == 9100


def test_overrides_are_validated_and_named_as_flags():
    s = Settings()
    assert s.with_overrides(port=9000, host=None).port == 9000
    assert s.with_overrides(port=9000).host == s.host
    with pytest.raises(SettingsError, match="--port=0: "):
        s.with_overrides(port=0)
    with pytest.raises(SettingsError, match="--prot is not a setting"):
        s.with_overrides(prot=1)
    with pytest.raises(Exception, match="frozen"):
        s.port = 1  # type: ignore[misc]


def test_cli_stops_on_a_bad_setting_with_one_line_and_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("RAG_READ_ONLY", "enabled")
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: RAG_READ_ONLY='enabled': expected true or false")
    assert "Traceback" not in err


def test_rag_serve_refuses_to_start_in_a_real_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"RAG_READ_ONLY": "enabled", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: RAG_READ_ONLY='enabled': expected true or false (also 1/0, yes/no, on/off)"
    ]


def test_serve_flags_override_the_environment(monkeypatch):
    """`rag serve` flags win over RAG_* variables; uvicorn's access log gives way to ours."""
    import uvicorn

    import rag.engine

    class FakeEngine:
        def __init__(self, config):
            self.config = config

        def warm_up(self, progress=False):
            pass

        def documents(self):
            return []

    ran = {}
    monkeypatch.setattr(rag.engine, "Engine", FakeEngine)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    monkeypatch.setenv("RAG_PORT", "9001")
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    monkeypatch.setenv("RAG_READ_ONLY", "false")
    assert cli.main(["serve", "--port", "9002", "--read-only", "--log-questions"]) == 0
    settings = ran["app"].state.settings
    assert (ran["host"], ran["port"]) == ("0.0.0.0", 9002)
    assert settings.read_only is True and settings.log_questions is True
    assert ran["app"].state.engine.config.read_only is True
    assert ran["access_log"] is False
