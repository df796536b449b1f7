"""Chat frontends: their conversations and the background tasks they send."""

from rag.chat.tasks import ChatTask, answer_task, recognise_task
from rag.chat.transcript import Message, quoted_citations

__all__ = ["ChatTask", "Message", "answer_task", "quoted_citations", "recognise_task"]
