"""The local ONNX embedding model against sentence-transformers' fp32 reference vectors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import (
    ANSWER_MODEL_SHA256,
    DIMENSIONS,
    MODEL_SHA256,
    LocalEmbeddings,
    answer_model_path,
    default_model_path,
)
from rag.errors import ModelFileError

FIXTURE = Path(__file__).parent / "fixtures" / "reference_vectors.json"


def test_matches_sentence_transformers_fp32(embeddings: LocalEmbeddings) -> None:
    ref = json.loads(FIXTURE.read_text(encoding="utf-8"))
    ours = embeddings.embed_array(ref["texts"])
    cosines = (ours * np.asarray(ref["vectors"])).sum(axis=1)
    # int8 weights cost a little: measured min 0.9983 ("hello"), mean 0.9994.
    assert cosines.min() >= 0.998, cosines
    assert cosines.mean() >= 0.999, cosines


def test_unit_vectors_in_input_order(embeddings: LocalEmbeddings) -> None:
    texts = ["a much longer sentence about nuclear talks in Hanoi and Singapore", "short", "medium text here"]
    batch = embeddings.embed_array(texts)
    assert batch.shape == (3, DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.array([embeddings.embed_query(t) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.array(embeddings.embed_documents(texts)), batch, atol=1e-6)


def test_long_text_is_truncated_not_rejected(embeddings: LocalEmbeddings) -> None:
    long = "North Korea and Russia expanded their ties. " * 400
    assert embeddings.count_tokens(long) >= 256
    assert embeddings.embed_array([long]).shape == (1, DIMENSIONS)


def test_empty_input(embeddings: LocalEmbeddings) -> None:
    assert embeddings.embed_array([]).shape == (0, DIMENSIONS)


@pytest.mark.parametrize(
    ("model", "sha256"),
    [(default_model_path, MODEL_SHA256), (answer_model_path, ANSWER_MODEL_SHA256)],
    ids=["embedding model", "answer encoder"],
)
def test_tampered_model_file_is_refused(tmp_path: Path, model: Callable[[], Path], sha256: str) -> None:
    good = LocalEmbeddings(model_path=model(), sha256=sha256)
    assert good.embed_array(["a question?"]).shape == (1, DIMENSIONS)
    bad = tmp_path / "model.onnx"
    shutil.copyfile(model(), bad)
    with bad.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelFileError, match="sha256"):
        LocalEmbeddings(model_path=bad, sha256=sha256)


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        LocalEmbeddings(model_path=tmp_path / "nope.onnx")
