"""HashEncoder: the deterministic stand-in encoder for fast tests."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from rag.embedding.base import Encoder
from rag.embedding.fake import HashEncoder
from rag.errors import InputError

TEXTS = ["北京工会召开大会", "北京工会召开会议", "The quick brown fox", "", "   "]


def test_implements_the_encoder_protocol() -> None:
    assert isinstance(HashEncoder(), Encoder)


def test_shape_dtype_and_unit_norm() -> None:
    enc = HashEncoder()
    for out in (enc.encode_queries(TEXTS), enc.encode_documents(TEXTS, progress=True)):
        assert out.shape == (len(TEXTS), 64)
        assert out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_empty_list_gives_empty_matrix() -> None:
    assert HashEncoder(dim=32).encode_queries([]).shape == (0, 32)


def test_deterministic_across_processes() -> None:
    here = HashEncoder().encode_documents(TEXTS)
    code = (
        "import sys, numpy as np; from rag.embedding.fake import HashEncoder; "
        f"np.save(sys.stdout.buffer, HashEncoder().encode_documents({TEXTS!r}))"
    )
    # A different hash seed proves Python's salted hash() is not used.
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout)), here)


def test_similar_texts_are_closer() -> None:
    v = HashEncoder().encode_documents(TEXTS[:3])
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[0] @ v[1] > 0.5


def test_full_width_and_case_do_not_matter() -> None:
    v = HashEncoder().encode_queries(["ＡＢＣ１２３", "abc123"])
    assert v[0] @ v[1] == pytest.approx(1.0)


def test_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="list of strings"):
        HashEncoder().encode_queries("one string")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="dim must be at least 2"):
        HashEncoder(dim=1)


def test_warm_up_in_background_loads_once_and_reports_errors() -> None:
    import pytest

    from rag.embedding.base import warm_up_in_background
    from rag.embedding.fake import HashEncoder

    class Loading(HashEncoder):
        loads = 0

        def warm_up(self) -> None:
            type(self).loads += 1

    encoder = Loading()
    warm_up_in_background(encoder)()
    assert Loading.loads == 1

    class Broken(HashEncoder):
        def warm_up(self) -> None:
            raise OSError("model file missing")

    wait = warm_up_in_background(Broken())
    with pytest.raises(OSError, match="model file missing"):
        wait()
