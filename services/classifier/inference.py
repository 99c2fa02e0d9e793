"""Inference wrapper for the modq abuse classifier.

Any BERT-style sequence-classification checkpoint directory works, as long as
its ``config.id2label`` names the modq categories (``insult``, ``threat``,
``privacy``, ``defamation``, ``discrimination``, ``sexual``) and ``none``.
Everything is loaded from local files only; no model hub access is needed.

Two head layouts are understood:

* single-label (softmax over the labels, the default): the overall abuse
  score is ``1 - p(none)``;
* multi-label (``config.problem_type == "multi_label_classification"``,
  independent sigmoids): the overall abuse score is the largest category
  probability.

A model's ``modq.json`` may carry a ``calibration`` (Platt scaling of the
score's log-odds, fitted on held-out posts by ``train``): the score is then
mapped through it and the category probabilities are rescaled to match, so
``score`` reads as the probability that a person would call the post
abusive and 0.5 is a meaningful threshold.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import threading
import warnings
from typing import Iterable, Sequence

from shared.categories import MODEL_CATEGORIES as CATEGORIES, NONE_LABEL  # one list for every service

LABELS = CATEGORIES + (NONE_LABEL,)

ENV_MODEL_DIR = "MODQ_CLASSIFIER_MODEL"
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# Shipped models live in models/classifier/<version>/; the CURRENT file names
# the promoted version (written by ``python -m services.classifier train`` and
# ``retrain``).
MODELS_ROOT = REPO_ROOT / "models" / "classifier"
CURRENT_FILE = "CURRENT"
META_FILE = "modq.json"

_LABEL_ALIASES = {
    "clean": NONE_LABEL,
    "neutral": NONE_LABEL,
    "ok": NONE_LABEL,
    "not_abusive": NONE_LABEL,
    "non_abusive": NONE_LABEL,
}


def default_model_dir() -> pathlib.Path:
    """Directory of the model to serve.

    ``$MODQ_CLASSIFIER_MODEL`` wins; otherwise the version named in
    ``models/classifier/CURRENT`` of this repository.
    """
    env = os.environ.get(ENV_MODEL_DIR, "").strip()
    if env:
        return pathlib.Path(env).expanduser().resolve()
    return current_model_dir(MODELS_ROOT)


def current_model_dir(models_root: os.PathLike | str = MODELS_ROOT) -> pathlib.Path:
    root = pathlib.Path(models_root)
    pointer = root / CURRENT_FILE
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        if name:
            return (root / name).resolve()
    return (root / "current").resolve()


def _normalise_label(label: str) -> str:
    key = str(label).strip().lower().replace("-", "_").replace(" ", "_")
    return _LABEL_ALIASES.get(key, key)


def _weights_digest(model_dir: pathlib.Path) -> str:
    h = hashlib.sha256()
    names = sorted(
        p for p in model_dir.iterdir()
        if p.is_file() and (p.suffix in {".safetensors", ".bin", ".pt", ".onnx"})
    )
    for p in names:
        h.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def read_metadata(model_dir: os.PathLike | str) -> dict:
    path = pathlib.Path(model_dir) / META_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
    return {}


class AbuseClassifier:
    """Scores posts for abuse with a local sequence-classification checkpoint."""

    def __init__(
        self,
        model_dir: os.PathLike | str | None = None,
        *,
        quantize: bool = True,
        max_length: int = 128,
        batch_size: int = 32,
        num_threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.model_dir = pathlib.Path(model_dir).expanduser().resolve() if model_dir else default_model_dir()
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(
                f"no classifier checkpoint at {self.model_dir} (set ${ENV_MODEL_DIR} "
                "or run `python -m services.classifier train`)"
            )
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.max_length = int(max_length)
        self.batch_size = max(1, int(batch_size))
        self.meta = read_metadata(self.model_dir)

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(self.model_dir), local_files_only=True, dtype=torch.float32
        )
        model.eval()
        self.config = model.config
        limit = getattr(model.config, "max_position_embeddings", None)
        offset = 2 if getattr(model.config, "model_type", "") in {"xlm-roberta", "roberta", "camembert"} else 0
        if limit:
            self.max_length = max(2, min(self.max_length, int(limit) - offset))

        id2label = {int(k): v for k, v in (model.config.id2label or {}).items()}
        self._index: dict[str, int] = {}
        for idx, label in id2label.items():
            name = _normalise_label(label)
            if name in LABELS and name not in self._index:
                self._index[name] = idx
        if not any(c in self._index for c in CATEGORIES):
            raise ValueError(
                f"checkpoint {self.model_dir} has no modq categories in id2label={id2label!r}; "
                f"expected labels among {LABELS}"
            )
        self.multi_label = getattr(model.config, "problem_type", None) == "multi_label_classification"

        self.calibration = self._read_calibration(self.meta)
        self.quantized = False
        # a model's modq.json may say int8 does not keep its labels
        if quantize and self.meta.get("quantize", True) is not False:
            model = self._quantize(model)
        self.model = model
        self._torch = torch
        self._lock = threading.Lock()
        self.version = self._compute_version()

    # ------------------------------------------------------------------ setup
    def _quantize(self, model):
        """Dynamic int8 for the linear layers, as the model's ``modq.json`` says.

        ``int8`` there may ask for per-channel weight scales and name modules
        (regular expressions) kept in fp32: the feed-forward output projections
        of e5-derived layers read GELU activations whose outliers a per-tensor
        int8 scale flattens, which flips decisions near the threshold."""
        import re

        import torch

        engines = torch.backends.quantized.supported_engines
        if not any(e in engines for e in ("fbgemm", "x86", "qnnpack")):
            return model
        spec_meta = self.meta.get("int8") or {}
        keep = [re.compile(p) for p in spec_meta.get("fp32_modules", [])]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from torch.ao.quantization import (default_dynamic_qconfig, per_channel_dynamic_qconfig,
                                                   quantize_dynamic)

                qconfig = per_channel_dynamic_qconfig if spec_meta.get("per_channel") else default_dynamic_qconfig
                spec = {name: qconfig for name, mod in model.named_modules()
                        if isinstance(mod, torch.nn.Linear) and not any(k.search(name) for k in keep)}
                qmodel = quantize_dynamic(model, spec, dtype=torch.qint8)
        except Exception:  # pragma: no cover - engine-specific
            return model
        qmodel.eval()
        self.quantized = True
        return qmodel

    @staticmethod
    def _read_calibration(meta: dict) -> tuple[float, float] | None:
        cal = meta.get("calibration") or {}
        if cal.get("method") != "platt":
            return None
        try:
            return float(cal["a"]), float(cal["b"])
        except (KeyError, TypeError, ValueError):
            return None

    def _calibrate(self, rows: list[dict[str, float]]) -> list[dict[str, float]]:
        """Map each score through the model's calibration; categories follow it."""
        import numpy as np

        if self.calibration is None or not rows:
            return rows
        a, b = self.calibration
        raw = np.array([1.0 - r[NONE_LABEL] for r in rows], dtype=np.float64)
        clipped = np.clip(raw, 1e-6, 1 - 1e-6)
        cal = 1.0 / (1.0 + np.exp(-(a * np.log(clipped / (1 - clipped)) + b)))
        out = []
        for r, s_raw, s_cal in zip(rows, raw, cal):
            ratio = s_cal / s_raw if s_raw > 0 else 0.0
            cats = {c: float(r[c] * ratio) for c in CATEGORIES}
            if s_raw <= 0:
                cats = {c: float(s_cal) / len(CATEGORIES) for c in CATEGORIES}
            cats[NONE_LABEL] = float(1.0 - s_cal)
            out.append(cats)
        return out

    def _compute_version(self) -> str:
        version = self.meta.get("version")
        if version:
            return str(version)
        name = getattr(self.config, "_name_or_path", "") or self.model_dir.name
        name = pathlib.Path(str(name)).name or "model"
        return f"{name}-{_weights_digest(self.model_dir)}"

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS

    # ---------------------------------------------------------------- scoring
    def _encode(self, texts: Sequence[str]):
        return self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_token_type_ids=False,
        )

    def logits(self, texts: Sequence[str]):
        """Raw logits (numpy, shape [n, num_labels]) in input order."""
        import numpy as np

        torch = self._torch
        clean = [self._clean(t) for t in texts]
        n = len(clean)
        out = None
        if n == 0:
            return np.zeros((0, len(self.config.id2label)), dtype=np.float32)
        # Sort by length so each batch pads to a similar length.
        order = sorted(range(n), key=lambda i: len(clean[i]))
        with self._lock, torch.inference_mode():
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self._encode([clean[i] for i in idx])
                logits = self.model(**enc).logits.float().numpy()
                if out is None:
                    out = np.zeros((n, logits.shape[1]), dtype=np.float32)
                out[idx] = logits
        return out

    @staticmethod
    def _clean(text) -> str:
        if text is None:
            return ""
        text = str(text)
        # Bound pathological inputs before tokenisation; the tokenizer
        # truncates to max_length tokens anyway.
        return text[:8192]

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        import numpy as np

        logits = self.logits(texts)
        if self.multi_label:
            probs = 1.0 / (1.0 + np.exp(-logits))
        else:
            z = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            probs = e / e.sum(axis=1, keepdims=True)
        rows = []
        for p in probs:
            cats = {c: float(p[self._index[c]]) if c in self._index else 0.0 for c in CATEGORIES}
            if NONE_LABEL in self._index:
                none = float(p[self._index[NONE_LABEL]])
            elif self.multi_label:
                none = float(1.0 - max(cats.values()))
            else:
                none = float(max(0.0, 1.0 - sum(cats.values())))
            cats[NONE_LABEL] = none
            rows.append(cats)
        return self._calibrate(rows)

    def score(self, texts: Iterable[str]) -> list[dict]:
        """Score posts.

        Returns one dict per text: ``{"score": float, "categories": {...},
        "model_version": str}`` where ``score`` is the overall probability
        that the post is abusive.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        results = []
        for cats in self.probabilities(texts):
            if self.multi_label:
                overall = max(cats[c] for c in CATEGORIES)
            elif NONE_LABEL in self._index:
                overall = 1.0 - cats[NONE_LABEL]
            else:
                overall = sum(cats[c] for c in CATEGORIES)
            overall = float(min(1.0, max(0.0, overall)))
            results.append({
                "score": overall,
                "categories": {k: float(min(1.0, max(0.0, v))) for k, v in cats.items()},
                "model_version": self.version,
            })
        return results

    def info(self) -> dict:
        return {
            "model_dir": str(self.model_dir),
            "version": self.version,
            "quantized": self.quantized,
            "max_length": self.max_length,
            "multi_label": self.multi_label,
            "calibration": ({"method": "platt", "a": self.calibration[0], "b": self.calibration[1]}
                            if self.calibration else None),
            "labels": {k: v for k, v in sorted(self._index.items(), key=lambda kv: kv[1])},
            "metadata": self.meta,
        }


__all__ = [
    "CATEGORIES",
    "LABELS",
    "NONE_LABEL",
    "AbuseClassifier",
    "default_model_dir",
    "current_model_dir",
    "read_metadata",
]
