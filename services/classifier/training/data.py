"""Corpus loading and the deterministic, stratified train/dev/test split.

Labelled posts live in ``data/classifier/``: ``abusive_<category>.jsonl``
(label = category) and ``none_<kind>.jsonl`` (label = ``none``), one JSON
object per line with at least ``text`` (``label`` is taken from the line,
falling back to the file name).

The split is a pure function of the corpus and the seed: within each stratum
(source file, i.e. label and kind) records are ordered by a keyed hash of
their normalised text and cut 70/15/15. Exact duplicates (after NFKC and
whitespace folding) are removed first, so a text can never sit in two
splits. The held-out ``test`` split is never trained or tuned on.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field

from ..inference import CATEGORIES, LABELS, NONE_LABEL, REPO_ROOT

DATA_DIR = REPO_ROOT / "data" / "classifier"
SEED = 20240601
FRACTIONS = (0.70, 0.15, 0.15)
SPLITS = ("train", "dev", "test")


@dataclass
class Example:
    text: str
    label: str
    kind: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def abusive(self) -> int:
        return int(self.label != NONE_LABEL)

    def to_json(self) -> dict:
        d = {"text": self.text, "label": self.label, "kind": self.kind, "source": self.source}
        d.update(self.extra)
        return d


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).strip()


def _label_from_file(path: pathlib.Path) -> tuple[str, str]:
    stem = path.stem
    if stem.startswith("abusive_"):
        return stem[len("abusive_"):], stem[len("abusive_"):]
    if stem.startswith("none_"):
        return NONE_LABEL, stem[len("none_"):]
    return "", stem


def load_corpus(data_dir: pathlib.Path | str = DATA_DIR) -> tuple[list[Example], dict]:
    """All labelled posts, de-duplicated; plus a report of what was dropped."""
    data_dir = pathlib.Path(data_dir)
    files = sorted(data_dir.glob("abusive_*.jsonl")) + sorted(data_dir.glob("none_*.jsonl"))
    seen: dict[str, Example] = {}
    report = {"files": {}, "duplicates": 0, "conflicts": 0, "bad_lines": 0, "unknown_labels": 0}
    conflicted: set[str] = set()
    for path in files:
        file_label, kind = _label_from_file(path)
        n = 0
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                    text = str(rec["text"])
                except (ValueError, KeyError, TypeError):
                    report["bad_lines"] += 1
                    continue
                label = str(rec.get("label") or file_label).strip().lower()
                if label not in LABELS:
                    report["unknown_labels"] += 1
                    continue
                key = normalise(text)
                if not key:
                    report["bad_lines"] += 1
                    continue
                n += 1
                if key in seen:
                    if seen[key].label != label:
                        conflicted.add(key)
                    report["duplicates"] += 1
                    continue
                extra = {k: v for k, v in rec.items() if k not in {"text", "label", "kind"}}
                seen[key] = Example(text=text, label=label, kind=str(rec.get("kind") or kind),
                                    source=path.name, extra=extra)
        report["files"][path.name] = n
    for key in conflicted:  # contradictory labels: drop rather than guess
        del seen[key]
    report["conflicts"] = len(conflicted)
    examples = list(seen.values())
    report["examples"] = len(examples)
    report["by_label"] = {lab: sum(e.label == lab for e in examples) for lab in LABELS}
    return examples, report


def _key(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x00{normalise(text)}".encode()).hexdigest()


def split(examples: list[Example], seed: int = SEED,
          fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, list[Example]]:
    strata: dict[str, list[Example]] = {}
    for ex in examples:
        strata.setdefault(ex.source or ex.label, []).append(ex)
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for name in sorted(strata):
        items = sorted(strata[name], key=lambda e: _key(seed, e.text))
        n = len(items)
        n_test = int(round(n * fractions[2]))
        n_dev = int(round(n * fractions[1]))
        if n >= 3:
            n_test, n_dev = max(1, n_test), max(1, n_dev)
        n_train = n - n_dev - n_test
        out["train"] += items[:n_train]
        out["dev"] += items[n_train:n_train + n_dev]
        out["test"] += items[n_train + n_dev:]
    for s in SPLITS:
        out[s].sort(key=lambda e: _key(seed + 1, e.text))
    return out


def write_splits(splits: dict[str, list[Example]], out_dir: pathlib.Path) -> dict:
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, items in splits.items():
        path = out_dir / f"{name}.jsonl"
        body = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in items)
        path.write_text(body, encoding="utf-8")
        manifest[name] = {
            "n": len(items),
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
            "by_label": {lab: sum(e.label == lab for e in items) for lab in LABELS},
        }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_jsonl(path: pathlib.Path | str) -> list[Example]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            label = str(rec.get("label", NONE_LABEL)).strip().lower()
            extra = {k: v for k, v in rec.items() if k not in {"text", "label", "kind", "source"}}
            items.append(Example(text=str(rec.get("text", "")), label=label,
                                 kind=str(rec.get("kind", "")), source=str(rec.get("source", "")),
                                 extra=extra))
    return items


def load_split(name: str, splits_dir: pathlib.Path) -> list[Example]:
    return read_jsonl(pathlib.Path(splits_dir) / f"{name}.jsonl")


def label_index(label: str) -> int:
    return LABELS.index(label)


__all__ = ["Example", "load_corpus", "split", "write_splits", "read_jsonl", "load_split",
           "normalise", "CATEGORIES", "LABELS", "DATA_DIR", "SEED"]
