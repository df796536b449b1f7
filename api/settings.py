"""Settings, read once at the edge (environment variables and command-line flags).

Every setting has an environment variable ``RAG_<NAME>`` (``pydantic-settings`` reads and
validates them); flags of ``rag serve`` and the other commands override them. A value outside
what a setting accepts stops start-up with a :class:`SettingsError` naming the variable and the
accepted values: a misspelt ``RAG_READ_ONLY=enabled`` must not start a writable service. The
library below never reads the environment itself.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.chunking import ChunkerSettings
from rag.engine import EngineConfig, LLMConfig
from rag.errors import InputError
from rag.search import SearchSettings

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = REPO_ROOT / "data" / "articles.txt"
DEFAULT_INDEX_DIR = REPO_ROOT / "index" / "default"
# A local path means Milvus Lite, embedded; http://host:19530 a Milvus server.
DEFAULT_MILVUS_URI = str(REPO_ROOT / "index" / "milvus.db")
DEFAULT_MODEL_CACHE = Path(os.path.expanduser("~/.cache/rag-news-zh/models"))
DEFAULT_MILVUS_URI = str(REPO_ROOT / "index" / "milvus.db")
ENV_PREFIX = "RAG_"

DEVICE_HELP = "cpu, cuda, cuda:N (N a GPU number) or mps"


class SettingsError(InputError):
    """A setting has a value it does not accept; the message names it and what it accepts."""


class Settings(BaseSettings):
    """Service and engine settings (``RAG_<NAME>`` in the environment for each field)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # RAG_X= (empty) means "the default", as before
        frozen=True,
        extra="forbid",
        protected_namespaces=(),
    )

    index_dir: Path = DEFAULT_INDEX_DIR
    # `:`-separated in the environment (os.pathsep), like PATH.
    corpus: Annotated[tuple[Path, ...], NoDecode] = (BUNDLED_CORPUS,)
    model: str = "default"
    model_cache: Path = DEFAULT_MODEL_CACHE
    query_prompt: str | None = "query: "
    passage_prompt: str | None = "passage: "
    chunk_size: int = Field(300, ge=1)
    chunk_overlap: int = Field(60, ge=0)
    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: float = Field(60.0, gt=0)
    dense_weight: float = Field(1.0, ge=0)
    keyword_weight: float = Field(1.0, ge=0)
    ann: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    device: str = "cpu"
    # Room for the vector-store and encoder-runtime seams; the engine reads them once wired.
    backend: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str = DEFAULT_MILVUS_URI
    runtime: Literal["onnx", "torch", "auto"] = "auto"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = None
    # Comma-separated in the environment.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    read_only: bool = False
    max_body_bytes: int = Field(1_000_000, ge=1)
    # The access log records a hash of each question unless this is on (privacy by default).
    log_questions: bool = False
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_max_retries: int = Field(0, ge=0, le=10)
    # Search an English question in the model's Chinese translation (one more model call).
    llm_translate_questions: bool = True
    # Logged writes after which the write log is folded into a new base, in the background.
    compact_after: int = Field(500, ge=1)
    # How /v1/chat/completions shows citations: "events" (Open WebUI's source events,
    # without the text Sources list), "text" (the list only), or "auto" (events for
    # requests that look like Open WebUI's).
    chat_sources: Literal["auto", "events", "text"] = "auto"

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p.strip())
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        kind, _, number = value.partition(":")
        if kind in ("cpu", "mps") and not number:
            return value
        if kind == "cuda" and (not number or number.isdigit()):
            return value
        raise ValueError(f"expected {DEVICE_HELP}")

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the environment, validated.

        Raises:
            SettingsError: A variable has a value its setting does not accept.
        """
        try:
            settings = cls()
        except ValidationError as e:
            raise SettingsError(_describe(e, lambda name: f"{ENV_PREFIX}{name.upper()}")) from None
        _warn_unknown_variables()
        return settings

    def with_overrides(self, **overrides: Any) -> Settings:
        """A validated copy with the given fields replaced (None values are ignored).

        Raises:
            SettingsError: An override is not accepted (named as its command-line flag).
        """
        changes = {k: v for k, v in overrides.items() if v is not None}
        if not changes:
            return self
        try:
            # model_validate checks the merged values without reading the environment again.
            return type(self).model_validate(self.model_dump() | changes)
        except ValidationError as e:
            raise SettingsError(_describe(e, lambda name: f"--{name.replace('_', '-')}")) from None

    def engine_config(self) -> EngineConfig:
        """The engine's plain-value configuration (the engine is assembled at the edge)."""
        llm = None
        if self.llm_base_url:
            llm = LLMConfig(
                base_url=self.llm_base_url.rstrip("/"),
                model=self.llm_model or "default",
                api_key=self.llm_api_key,
                timeout=self.llm_timeout,
                max_retries=self.llm_max_retries,
                translate_questions=self.llm_translate_questions,
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
            runtime=self.runtime,
            read_only=self.read_only,
            llm=llm,
            compact_after=self.compact_after,
            backend=self.backend,
            milvus_uri=self.milvus_uri or DEFAULT_MILVUS_URI,
        )


_BOOL_HELP = "expected true or false (also 1/0, yes/no, on/off)"


def _describe(error: ValidationError, label) -> str:
    """One line per bad setting: ``RAG_X='value': what it accepts``."""
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]) if item.get("loc") else "?"
        message = item.get("msg", "invalid value").removeprefix("Value error, ")
        if item.get("type") == "bool_parsing":
            message = _BOOL_HELP
        elif item.get("type") == "extra_forbidden":
            lines.append(f"{label(name)} is not a setting")
            continue
        lines.append(f"{label(name)}={item.get('input')!r}: {message}")
    return "; ".join(lines)


def _warn_unknown_variables() -> None:
    # A misspelt variable name (RAG_READONLY) would otherwise be ignored without a word.
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        logger.warning("ignoring unknown settings: %s", ", ".join(unknown))


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once (tests clear or override this).

    Raises:
        SettingsError: A variable has a value its setting does not accept.
    """
    return Settings.from_env()
