"""What one user may search: the corpus, and their own uploads but nobody else's (with --auth)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import cast

import numpy as np

from rag.chain import RagChain
from rag.lexical import BM25Index
from rag.retrieve import Hit, Retriever
from rag.settings import LLMMode, RetrievalMode

MAX_CHAINS = 256  # chains kept for (user, options); each is a few small objects over shared parts


class ScopedRetriever(Retriever):
    """A retriever over the shared index that leaves out the sources `hidden()` names."""

    def __init__(self, base: Retriever, hidden: Callable[[], set[str]]) -> None:
        super().__init__(base.settings, base.store, base.embeddings, base.embed_texts)
        self.base, self.hidden = base, hidden

    def bm25(self) -> BM25Index:
        """Share the base's BM25 index (one copy in memory, whoever asks)."""
        return self.base.bm25()

    def embed_query(self, query: str) -> np.ndarray:
        """Embed with the base's embedder."""
        return self.base.embed_query(query)

    def search(self, query: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        """Search the base for more than `k` and keep the first `k` this user may see."""
        hidden = self.hidden()
        k = k or self.settings.top_k
        if not hidden:
            return self.base.search(query, k, mode)
        hits = [h for h in self.base.search(query, 4 * k + 20, mode) if h.source not in hidden][:k]
        return [h.model_copy(update={"rank": i}) for i, h in enumerate(hits, start=1)]


class Chains:
    """The chain for each (user, answerer, k, search) asked for, built once and kept (LRU)."""

    def __init__(self, chain: RagChain, hidden_from: Callable[[str], set[str]] | None) -> None:
        self.chain, self.hidden_from = chain, hidden_from
        self._cache: OrderedDict[tuple[str, str, int, str], RagChain] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: str, mode: str, top_k: int, retrieval: str) -> RagChain:
        """Return the chain for this user and options."""
        with self._lock:
            return self._get(owner, mode, top_k, retrieval)

    def _get(self, owner: str, mode: str, top_k: int, retrieval: str) -> RagChain:
        key = (owner if self.hidden_from else "", mode, top_k, retrieval)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        base = self.chain.with_options(
            mode=cast(LLMMode, mode), top_k=top_k, retrieval_mode=cast(RetrievalMode, retrieval)
        )
        if self.hidden_from is not None:
            hidden_from = self.hidden_from
            scoped = ScopedRetriever(base.retriever, lambda: hidden_from(owner))
            base = RagChain(
                base.settings,
                scoped,
                base.embeddings,
                base.chat_model if base.mode == "openai" else None,
                mode=base.mode,
                top_k=base.top_k,
                retrieval_mode=base.retrieval_mode,
                vectors=base.vectors,
                prompts=base.prompts,
                llm_limit=base.llm_limit,
            )
        self._cache[key] = base
        while len(self._cache) > MAX_CHAINS:
            self._cache.popitem(last=False)
        return base
