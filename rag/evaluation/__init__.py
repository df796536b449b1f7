"""Offline evaluation: ranking metrics, BEIR and question-set loaders, run reports.

Everything here works on plain ranked lists of ids (or chunk texts), so it stays
independent of the retrieval code: the runner searches, this package scores.
"""

from rag.evaluation.beir import BeirDataset, load_beir
from rag.evaluation.metrics import (
    QueryResult,
    dedupe,
    first_relevant_rank,
    hit_rate,
    mean_interval,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    summarise,
)
from rag.evaluation.questions import (
    Question,
    QuestionEvaluation,
    QuestionRow,
    QuestionRun,
    evaluate_questions,
    find_quote_rank,
    load_questions,
)
from rag.evaluation.report import QueryRecord, ReportFiles, ScoredId, format_table, write_report

__all__ = [
    "BeirDataset",
    "QueryRecord",
    "QueryResult",
    "Question",
    "QuestionEvaluation",
    "QuestionRow",
    "QuestionRun",
    "ReportFiles",
    "ScoredId",
    "dedupe",
    "evaluate_questions",
    "find_quote_rank",
    "first_relevant_rank",
    "format_table",
    "hit_rate",
    "load_beir",
    "load_questions",
    "mean_interval",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "summarise",
    "write_report",
]
