"""A smaller student distilled from a trained checkpoint (``train --teacher-dir``).

The teacher is any earlier model built by ``train`` (its ``modq.json`` names
the e5 layers it was made of). The student takes a subset of the teacher's
layers, its pruned vocabulary and tokenizer and its classification head, and
learns from the gold labels and the teacher's logits together.

``spliced_posts`` adds two-sentence posts made of two train posts: an attack
after a benign opening (and the reverse), and two benign posts together, so
that neither the first sentence nor the length decides. The label of a
spliced post is the label of its abusive part (benign when both are); its
teacher logits are those the teacher gave that part alone, because the
teacher reads a long post mostly by its opening.
"""
from __future__ import annotations

import pathlib
import random

import numpy as np

from ..inference import NONE_LABEL, read_metadata
from .common import HANDLE_RE

JOINERS = ("。", "。", "\n", "、", " ", "！", "。。", "w ")


def load_teacher(teacher_dir: str | pathlib.Path):
    """The teacher model (fp32, eval), its tokenizer and the e5 layers it was built from."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    layers = read_metadata(teacher_dir).get("provenance", {}).get("layers_from_e5")
    if not layers:
        raise SystemExit(f"{teacher_dir}: modq.json does not name the layers the model was built from")
    model = AutoModelForSequenceClassification.from_pretrained(
        str(teacher_dir), local_files_only=True, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(teacher_dir), local_files_only=True), list(layers)


def drop_teacher_mistakes(logits: np.ndarray, labels, labels_order) -> tuple[np.ndarray, int]:
    """The teacher's logits with the rows it gets wrong (abusive vs. benign against the gold
    label) set to NaN, so those posts teach the student by their gold label alone; and how many.
    New corpus posts the teacher never saw are mostly its mistakes: copying its scores there
    would hand its register shortcut on to the student."""
    none = labels_order.index(NONE_LABEL)
    z = logits - logits.max(axis=1, keepdims=True)
    p_none = np.exp(z[:, none]) / np.exp(z).sum(axis=1)
    wrong = (p_none < 0.5) != np.array([l != NONE_LABEL for l in labels])
    out = logits.astype(np.float32, copy=True)
    out[wrong] = np.nan
    return out, int(wrong.sum())


def _join(a: str, b: str, rng: random.Random) -> str:
    a = a.rstrip()
    if a.endswith(("。", "！", "？", "!", "?", "w", "ｗ", "草")):
        return f"{a}{rng.choice(('', ' ', chr(10)))}{b}"
    return a + rng.choice(JOINERS) + b


def spliced_posts(texts, labels, logits, seed: int,
                  share: float) -> tuple[list[str], list[str], np.ndarray | None]:
    """``share * len(texts)`` two-part posts: 45 % benign then abusive, 15 %
    abusive then benign, 40 % benign then benign."""
    rng = random.Random(seed + 11)
    benign = [i for i, l in enumerate(labels) if l == NONE_LABEL]
    abusive = [i for i, l in enumerate(labels) if l != NONE_LABEL]
    if not benign or not abusive:
        return [], [], None
    out_t, out_l, out_z = [], [], []
    for _ in range(int(len(texts) * share)):
        r = rng.random()
        if r < 0.45:
            first, second, carrier = rng.choice(benign), rng.choice(abusive), 1
        elif r < 0.60:
            first, second, carrier = rng.choice(abusive), rng.choice(benign), 0
        else:
            first, second = rng.choice(benign), rng.choice(benign)
            carrier = None
        # a reply handle belongs at the start of a post, not in its middle
        out_t.append(_join(texts[first], HANDLE_RE.sub("", texts[second], count=1), rng))
        if carrier is None:
            out_l.append(NONE_LABEL)
            out_z.append(None if logits is None else (logits[first] + logits[second]) / 2)
        else:
            src = (first, second)[carrier]
            out_l.append(labels[src])
            out_z.append(None if logits is None else logits[src])
    return out_t, out_l, (np.stack(out_z) if logits is not None else None)


def continued(init_dir: str):
    """A checkpoint to continue training (``train --init-from``), its tokenizer and its e5 layers."""
    model, tok, layers = load_teacher(init_dir)
    return model, tok, layers
