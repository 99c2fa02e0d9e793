"""Corpus loading and the deterministic, stratified train/dev/test split.

Labelled posts live in ``data/classifier/``: ``abusive_<category>.jsonl``
(label = category), ``none_<kind>.jsonl`` (label = ``none``) and
``posts/<author>.jsonl`` (mixed labels, written register by register, with
contrast pairs), one JSON object per line with at least ``text`` (``label``
is taken from the line, falling back to the file name).

The split is a pure function of the corpus and the seed: within each stratum
(source file and label) the records are grouped (a contrast pair is one
group, so both of its posts land in the same split), the groups are ordered
by a keyed hash and cut 70/15/15. Exact duplicates (after NFKC and
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
    files = (sorted(data_dir.glob("abusive_*.jsonl")) + sorted(data_dir.glob("none_*.jsonl"))
             + sorted((data_dir / "posts").glob("*.jsonl")))
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
                if not isinstance(rec, dict):
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
                default_kind = kind if file_label else ("" if label != NONE_LABEL else "other")
                seen[key] = Example(text=text, label=label, kind=str(rec.get("kind") or default_kind),
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


def _group_key(ex: Example) -> str:
    # Both posts of a contrast pair share a template: keep them in one split,
    # or the test split would measure memory of the pair's wording.
    pair = str(ex.extra.get("pair") or "").strip()
    return f"pair\x00{pair}" if pair else f"text\x00{normalise(ex.text)}"


def split(examples: list[Example], seed: int = SEED,
          fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, list[Example]]:
    # A pair's posts have different labels; each pair is assigned once, by the
    # stratum of its first (abusive) post, so it is never cut apart.
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(_group_key(ex), []).append(ex)
    strata: dict[str, list[str]] = {}
    for gkey, members in groups.items():
        lead = min(members, key=lambda e: (e.label == NONE_LABEL, e.text))
        strata.setdefault(f"{lead.source or lead.label}\x00{lead.label}", []).append(gkey)
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for name in sorted(strata):
        keys = sorted(strata[name], key=lambda g: _key(seed, g))
        n = len(keys)
        n_test = int(round(n * fractions[2]))
        n_dev = int(round(n * fractions[1]))
        if n >= 3:
            n_test, n_dev = max(1, n_test), max(1, n_dev)
        n_train = n - n_dev - n_test
        for part, chunk in (("train", keys[:n_train]), ("dev", keys[n_train:n_train + n_dev]),
                            ("test", keys[n_train + n_dev:])):
            for g in chunk:
                out[part] += groups[g]
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


_POLITE_RE = re.compile(r"(です|ます|ました|ません|でしょう|ください|下さい|ございます|いただ|頂)")


def register_of(ex: Example) -> str:
    """The register a post was written in: its ``register`` field, else a guess
    (polite endings = keigo, anything else = tame) for the older files."""
    reg = str(ex.extra.get("register") or "").strip()
    if reg:
        return reg
    return "keigo" if _POLITE_RE.search(ex.text) else "tame"


def register_mix(examples: list[Example]) -> dict:
    """Share of each register among abusive and among benign posts (the datasheet's table)."""
    counts: dict[str, dict[str, int]] = {"abusive": {}, "benign": {}}
    for ex in examples:
        side = counts["abusive" if ex.abusive else "benign"]
        reg = register_of(ex)
        side[reg] = side.get(reg, 0) + 1
    out = {}
    for side, c in counts.items():
        total = sum(c.values()) or 1
        out[side] = {"n": sum(c.values()),
                     "share": {k: round(v / total, 3) for k, v in sorted(c.items(), key=lambda kv: -kv[1])}}
    handles = {side: [HANDLE_PREFIX.match(e.text) is not None for e in examples if e.abusive == (side == "abusive")]
               for side in counts}
    out["reply_handle_share"] = {side: round(sum(v) / max(1, len(v)), 3) for side, v in handles.items()}
    return out


HANDLE_PREFIX = re.compile(r"^\s*@[A-Za-z0-9_]{1,30}")


def label_index(label: str) -> int:
    return LABELS.index(label)


__all__ = ["Example", "load_corpus", "split", "write_splits", "read_jsonl", "load_split",
           "normalise", "CATEGORIES", "LABELS", "DATA_DIR", "SEED"]
