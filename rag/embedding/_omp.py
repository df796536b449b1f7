"""Make OpenMP threads sleep instead of spin; import this before torch.

OpenMP runtimes (libgomp, Intel's) busy-wait between parallel regions by default. On the shared
2-core host this project runs on, the spinning threads competed with everything else and made
single-query encodes 5-20x slower. ``OMP_WAIT_POLICY=PASSIVE`` fixes it, but the runtime reads
the variable once, when it is loaded, so it must be set before the first ``import torch``.

This is the one place the library touches the environment; ``setdefault`` keeps an operator's
explicit choice.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
