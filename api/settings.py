"""Settings, read once at the edge (environment variables and command-line flags).

Every setting has an environment variable ``RAG_<NAME>``; flags of ``rag serve`` and the
other commands override them. The library below never reads the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from rag.chunking import ChunkerSettings
from rag.engine import EngineConfig, LLMConfig
from rag.errors import InputError
from rag.search import SearchSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = REPO_ROOT / "data" / "articles.txt"
DEFAULT_INDEX_DIR = REPO_ROOT / "index" / "default"
DEFAULT_MILVUS_URI = str(REPO_ROOT / "index" / "milvus.db")
DEFAULT_MODEL_CACHE = Path(os.path.expanduser("~/.cache/rag-news-zh/models"))


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"RAG_{name}")
    return value if value not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"RAG_{name} must be a number, got {raw!r}") from None


def _env_bool(name: str, default: bool = False) -> bool:
    raw = _env(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Service and engine settings."""

    index_dir: Path = DEFAULT_INDEX_DIR
    corpus: tuple[Path, ...] = (BUNDLED_CORPUS,)
    model: str = "default"
    model_cache: Path = DEFAULT_MODEL_CACHE
    query_prompt: str | None = "query: "
    passage_prompt: str | None = "passage: "
    chunk_size: int = 300
    chunk_overlap: int = 60
    fusion: str = "convex"
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    ann: str = "auto"
    device: str = "cpu"
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    read_only: bool = False
    max_body_bytes: int = 1_000_000
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 30.0
    backend: str = "faiss"
    milvus_uri: str = DEFAULT_MILVUS_URI

    @classmethod
    def from_env(cls) -> Settings:
        corpus = _env("CORPUS")
        origins = _env("CORS_ORIGINS", "") or ""
        return cls(
            index_dir=Path(_env("INDEX_DIR", str(DEFAULT_INDEX_DIR))),
            corpus=tuple(Path(p) for p in corpus.split(os.pathsep))
            if corpus
            else (BUNDLED_CORPUS,),
            model=_env("MODEL", "default") or "default",
            model_cache=Path(_env("MODEL_CACHE", str(DEFAULT_MODEL_CACHE))),
            query_prompt=_env("QUERY_PROMPT", "query: "),
            passage_prompt=_env("PASSAGE_PROMPT", "passage: "),
            chunk_size=int(_env_float("CHUNK_SIZE", 300)),
            chunk_overlap=int(_env_float("CHUNK_OVERLAP", 60)),
            fusion=_env("FUSION", "convex") or "convex",
            rrf_k=_env_float("RRF_K", 60.0),
            dense_weight=_env_float("DENSE_WEIGHT", 1.0),
            keyword_weight=_env_float("KEYWORD_WEIGHT", 1.0),
            ann=_env("ANN", "auto") or "auto",
            device=_env("DEVICE", "cpu") or "cpu",
            host=_env("HOST", "127.0.0.1") or "127.0.0.1",
            port=int(_env_float("PORT", 8000)),
            api_key=_env("API_KEY"),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
            read_only=_env_bool("READ_ONLY"),
            max_body_bytes=int(_env_float("MAX_BODY_BYTES", 1_000_000)),
            llm_base_url=_env("LLM_BASE_URL"),
            llm_model=_env("LLM_MODEL"),
            llm_api_key=_env("LLM_API_KEY"),
            llm_timeout=_env_float("LLM_TIMEOUT", 30.0),
            backend=_env("BACKEND", "faiss") or "faiss",
            milvus_uri=_env("MILVUS_URI", DEFAULT_MILVUS_URI) or DEFAULT_MILVUS_URI,
        )

    def with_overrides(self, **overrides) -> Settings:
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def engine_config(self) -> EngineConfig:
        llm = None
        if self.llm_base_url:
            llm = LLMConfig(
                base_url=self.llm_base_url.rstrip("/"),
                model=self.llm_model or "default",
                api_key=self.llm_api_key,
                timeout=self.llm_timeout,
            )
        return EngineConfig(
            index_dir=self.index_dir,
            corpus=self.corpus,
            model=self.model,
            model_cache=self.model_cache,
            query_prompt=self.query_prompt,
            passage_prompt=self.passage_prompt,
            chunker=ChunkerSettings(self.chunk_size, self.chunk_overlap),
            search=SearchSettings(
                fusion=self.fusion,
                rrf_k=self.rrf_k,
                dense_weight=self.dense_weight,
                keyword_weight=self.keyword_weight,
            ),
            ann=self.ann,
            device=self.device,
            read_only=self.read_only,
            llm=llm,
            backend=self.backend,
            milvus_uri=self.milvus_uri,
        )


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once (tests override this dependency)."""
    return Settings.from_env()
