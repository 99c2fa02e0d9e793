"""BERT models for modq: the e5-small teacher and the distilled student.

* ``pruned_vocab``: the ids worth keeping from e5's 250k-piece vocabulary:
  every single-character piece (so any text still tokenises without new
  unknowns), every piece containing Japanese script, the most frequent
  other pieces, and every id the corpus uses.
* ``build_classifier``: a ``BertForSequenceClassification`` initialised from
  (a subset of the layers of) the dequantised e5 weights, with the pruned
  embedding matrix and the seven modq labels.
* ``fine_tune``: the shared training loop (cross-entropy on gold labels,
  optionally mixed with distillation from teacher logits).
"""
from __future__ import annotations

import json
import math
import pathlib
import re
import sys
import time
from typing import Callable, Sequence

import numpy as np

from ..inference import LABELS, META_FILE
from .e5convert import bert_config, build_tokenizer, state_dict

JP_RE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


LOG_FILE: list = []


def log(msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, file=sys.stderr, flush=True)
    for path in LOG_FILE:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def set_seed(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------ vocab
def pruned_vocab(info: dict, texts: Sequence[str], top_other: int = 6000) -> list[int]:
    """Sorted ids of e5 pieces to keep (specials first, ``<mask>`` kept)."""
    pieces, scores = info["pieces"], info["scores"]
    keep = {info["bos"], info["pad"], info["eos"], info["unk"]}
    if "<mask>" in pieces:
        keep.add(pieces.index("<mask>"))
    for i, p in enumerate(pieces):
        core = p[1:] if p.startswith("\u2581") else p
        if len(core) <= 1 or JP_RE.search(p):
            keep.add(i)
    order = np.argsort(-np.asarray(scores), kind="stable")
    added = 0
    for i in order:
        if added >= top_other:
            break
        if int(i) not in keep:
            keep.add(int(i))
            added += 1
    if texts:
        full = build_tokenizer(info)
        for ids in full(list(texts), add_special_tokens=False)["input_ids"]:
            keep.update(ids)
    specials = [info["bos"], info["pad"], info["eos"], info["unk"]]
    rest = sorted(keep - set(specials))
    return specials + rest


def pruned_tokenizer(info: dict, keep: list[int]):
    pieces = [info["pieces"][i] for i in keep]
    scores = [info["scores"][i] for i in keep]
    specials = {"bos": 0, "pad": 1, "eos": 2, "unk": 3}
    if "<mask>" in pieces:
        specials["mask"] = pieces.index("<mask>")
    return build_tokenizer(info, pieces=pieces, scores=scores, specials=specials)


# ------------------------------------------------------------------ models
def build_classifier(info: dict, keep: list[int], layers: Sequence[int] | None = None,
                     src_state: dict | None = None, dropout: float = 0.1):
    """BertForSequenceClassification from e5 weights (``src_state``: a
    BertModel-style state dict, default the dequantised e5)."""
    import torch
    from transformers import BertForSequenceClassification

    src = src_state if src_state is not None else state_dict(info)
    n_src = info["NL"]
    layers = list(layers) if layers is not None else list(range(n_src))
    cfg = bert_config(
        info,
        id2label={i: l for i, l in enumerate(LABELS)},
        label2id={l: i for i, l in enumerate(LABELS)},
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        classifier_dropout=dropout,
    )
    cfg.vocab_size = len(keep)
    cfg.num_hidden_layers = len(layers)
    cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id = 1, 0, 2
    model = BertForSequenceClassification(cfg)
    idx = torch.tensor(keep, dtype=torch.long)
    new = {}
    for k, v in src.items():
        k = k[len("bert."):] if k.startswith("bert.") else k
        if k == "embeddings.word_embeddings.weight" and v.shape[0] != len(keep):
            v = v.index_select(0, idx)
        if k.startswith("encoder.layer."):
            li = int(k.split(".")[2])
            if li not in layers:
                continue
            k = k.replace(f"encoder.layer.{li}.", f"encoder.layer.{layers.index(li)}.", 1)
        if k.startswith("classifier."):
            new[k] = v
            continue
        new["bert." + k] = v
    missing, unexpected = model.load_state_dict(new, strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if not any(k.startswith("bert.pooler.") for k in new):
        # e5 has no pooler: start it as (tanh of) the identity on [CLS]
        with torch.no_grad():
            model.bert.pooler.dense.weight.copy_(torch.eye(cfg.hidden_size))
            model.bert.pooler.dense.bias.zero_()
        missing = [m for m in missing if not m.startswith("bert.pooler.")]
    missing = [m for m in missing if not m.startswith("classifier.")]
    if missing or unexpected:
        raise RuntimeError(f"weights mismatch: missing={missing} unexpected={unexpected}")
    return model


# ------------------------------------------------------------------ training
def _batches(lengths: Sequence[int], batch_size: int, rng: np.random.RandomState):
    """Shuffled batches of similar length (less padding): shuffle, sort
    within pools of 50 batches, then shuffle the batch order."""
    n = len(lengths)
    order = rng.permutation(n)
    pool = batch_size * 50
    batches = []
    for s in range(0, n, pool):
        chunk = sorted(order[s:s + pool], key=lambda i: lengths[i])
        batches += [np.array(chunk[b:b + batch_size]) for b in range(0, len(chunk), batch_size)]
    for j in rng.permutation(len(batches)):
        yield batches[j]


def predict_logits(model, tokenizer, texts: Sequence[str], batch_size: int = 64,
                   max_length: int = 128) -> np.ndarray:
    import torch

    model.eval()
    texts = list(texts)
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt", return_token_type_ids=False)
            out[idx] = model(**enc).logits.float().numpy()
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _optimiser(model, *, lr: float, head_lr: float | None, weight_decay: float, total: int, warmup: float):
    """AdamW with its own learning rate for the head, linear warm-up then linear decay to 0."""
    import torch

    def is_head(name: str) -> bool:
        return name.startswith("classifier.") or name.startswith("bert.pooler.")

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([
        {"params": [p for n, p in trainable if not is_head(n)], "lr": lr},
        {"params": [p for n, p in trainable if is_head(n)], "lr": head_lr or lr},
    ], weight_decay=weight_decay)
    warm = max(1, int(total * warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    return opt, sched


def _padded(seqs: list[list[int]], pad: int):
    """Token ids padded to the batch's longest sequence, and the attention mask."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
        mask[r, :len(s)] = 1
    return ids, mask


def _loss(logits, gold, teacher, *, alpha: float, temperature: float):
    """Cross-entropy on the gold labels, mixed with the teacher's softened scores when given.
    A teacher row of NaN means "no teacher for this post": it learns from its gold label alone
    (posts the teacher gets wrong would otherwise pull the student towards the same mistake)."""
    import torch
    import torch.nn.functional as F

    if teacher is None:
        return F.cross_entropy(logits, gold)
    ce = F.cross_entropy(logits, gold, reduction="none")
    taught = ~torch.isnan(teacher[:, 0])
    t = temperature
    kd = F.kl_div(F.log_softmax(logits / t, -1), F.softmax(torch.nan_to_num(teacher) / t, -1),
                  reduction="none").sum(-1) * t * t
    mixed = torch.where(taught, alpha * ce + (1 - alpha) * kd, ce)
    return mixed.mean()


def fine_tune(model, tokenizer, texts: Sequence[str], labels: Sequence[str], *,
              epochs: int, lr: float, batch_size: int = 32, seed: int = 0,
              teacher_logits: np.ndarray | None = None, alpha: float = 0.5, temperature: float = 2.0,
              freeze_embeddings: bool = True, head_lr: float | None = None,
              max_length: int = 128, weight_decay: float = 0.01, warmup: float = 0.1,
              eval_fn: Callable[[object, int], float] | None = None,
              time_budget_s: float | None = None, tag: str = "") -> dict:
    """Train in place; keeps the weights of the best epoch by ``eval_fn``
    (higher is better) when given. Returns a small training log."""
    import torch

    set_seed(seed)
    rng = np.random.RandomState(seed)
    y = torch.tensor([LABELS.index(l) for l in labels], dtype=torch.long)
    enc_all = tokenizer(list(texts), truncation=True, max_length=max_length,
                        return_token_type_ids=False)["input_ids"]
    pad = tokenizer.pad_token_id
    if freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    total = max(1, math.ceil(len(enc_all) / batch_size) * epochs)
    opt, sched = _optimiser(model, lr=lr, head_lr=head_lr, weight_decay=weight_decay, total=total, warmup=warmup)
    tl = torch.tensor(teacher_logits, dtype=torch.float32) if teacher_logits is not None else None
    history, best, best_state, step = [], -1.0, None, 0
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        losses = []
        lengths = [len(e) for e in enc_all]
        for idx in _batches(lengths, batch_size, rng):
            ids, mask = _padded([enc_all[i] for i in idx], pad)
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = _loss(logits, y[idx], None if tl is None else tl[idx], alpha=alpha, temperature=temperature)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
        entry = {"epoch": ep + 1, "loss": round(float(np.mean(losses)), 4),
                 "elapsed_s": round(time.time() - t0, 1)}
        if eval_fn is not None:
            entry["dev"] = round(float(eval_fn(model, ep)), 4)
            if entry["dev"] > best:
                best = entry["dev"]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(entry)
        log(f"{tag} epoch {ep + 1}/{epochs} {entry}")
        spent = time.time() - t0
        if time_budget_s is not None and ep + 1 < epochs and spent + spent / (ep + 1) > time_budget_s:
            log(f"{tag} time budget reached, stopping after epoch {ep + 1}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"history": history, "best_dev": best if eval_fn else None, "steps": step,
            "seconds": round(time.time() - t0, 1)}


# ------------------------------------------------------------------ saving
def save_checkpoint(model, tokenizer, out_dir: pathlib.Path, meta: dict, fp16: bool = True) -> pathlib.Path:
    import copy

    import torch

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = copy.deepcopy(model).eval()
    if fp16:
        m = m.to(torch.float16)
    m.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out_dir


def dir_size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file())
