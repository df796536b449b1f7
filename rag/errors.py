"""One small error hierarchy for the whole library.

The HTTP layer maps these to status codes in a single exception handler, so every
message here must say what was wrong and how to fix it.
"""


class RagError(Exception):
    """Base class of every error the library raises on purpose.

    Args:
        message: What was wrong and how to fix it.
        param: The name of the offending input field, where there is one.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class InputError(RagError):
    """A caller passed a bad value (empty query, top_k out of range, unknown mode...)."""


class SourceError(RagError):
    """A source file could not be read or parsed (missing, not UTF-8, malformed JSONL)."""


class NotFoundError(RagError):
    """A named thing (document, index) does not exist."""


class IndexMismatchError(RagError):
    """An index on disk was built with another model or format; it must be rebuilt."""


class ModelError(RagError):
    """The embedding model could not be built or loaded."""


class GenerationError(RagError):
    """The optional language model failed, timed out or answered garbage."""


class ReadOnlyError(RagError):
    """A write was asked of a service started read-only."""


class IndexLockedError(RagError):
    """Another writer holds the index folder; only one may write it at a time."""
