"""The service's benchmarks, one module per section, run by ``scripts/bench.py``.

- :mod:`.common`: questions (read from ``tests/data``), summaries, memory, tables.
- :mod:`.harness`: a real ``rag serve`` subprocess, fresh-interpreter workers, a run's state.
- :mod:`.latency`, :mod:`.ingest`, :mod:`.scale`, :mod:`.startup`, :mod:`.embedding`: sections.

A section module has ``NAME``, ``run(ctx) -> dict`` and ``report(results, table)``; optional
``add_arguments(parser)`` and ``targets(results) -> list[dict]``.
"""

import os

# What the servers the benchmarks launch should see: the operator's OpenMP setting, not the
# one set just below for the benchmark's own processes.
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")

# Before numpy, faiss or torch load an OpenMP runtime, in the benchmark and in every worker
# (``python -m benchmarks.<module>`` imports this package first): sleeping, not spinning,
# threads (see rag/embedding/_omp.py; spinning threads on a busy 2-core host make timings erratic).
from rag.embedding import _omp  # noqa: E402, F401
