"""Test helpers: a tiny, randomly initialised classifier checkpoint.

``build_tiny_random_model`` writes a 2-layer, hidden-64
``BertForSequenceClassification`` with the seven modq labels and a small
character-level WordPiece tokenizer that ``AutoTokenizer`` loads offline.
Its scores are meaningless; it exists so plumbing tests run in seconds
without the shipped model. Never ship it.
"""
from __future__ import annotations

import json
import os
import pathlib

from services.classifier.inference import LABELS, META_FILE

_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _tiny_vocab() -> list[str]:
    chars: list[str] = []
    chars += [chr(c) for c in range(0x21, 0x7F)]          # printable ASCII
    chars += [chr(c) for c in range(0x3041, 0x3097)]      # hiragana
    chars += [chr(c) for c in range(0x30A1, 0x30FB)]      # katakana
    chars += list("ー、。！？「」『』（）・…〜")
    chars += list("死殺馬鹿消住所電話番号晒差別女男人国者日本今天気朝昼夜猫犬好嫌愛言思見行来食飲店駅会社学校先生")
    seen: set[str] = set()
    vocab = list(_SPECIALS)
    for ch in chars:
        if ch not in seen:
            seen.add(ch)
            vocab.append(ch)
    for ch in list(seen):
        vocab.append("##" + ch)
    return vocab


def build_tiny_tokenizer(path: os.PathLike | str):
    """Save a small WordPiece tokenizer (PreTrainedTokenizerFast) to ``path``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = {tok: i for i, tok in enumerate(_tiny_vocab())}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # Every character becomes its own word: good enough for CJK tests and
    # keeps unknown characters as separate [UNK]s.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(pattern=Regex(r"."), behavior="isolated"),
    ])
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(str(path))
    return fast


def build_tiny_random_model(
    path: os.PathLike | str,
    *,
    seed: int = 0,
    num_layers: int = 2,
    hidden_size: int = 64,
    version: str | None = "tiny-random-test",
) -> pathlib.Path:
    """Write a tiny random BertForSequenceClassification checkpoint to ``path``.

    Returns the directory. ``version`` is recorded in ``modq.json`` (pass
    ``None`` to omit the metadata file and exercise the fallback version).
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(path)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=max(1, hidden_size // 32),
        intermediate_size=hidden_size * 4,
        max_position_embeddings=512,
        type_vocab_size=2,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        pad_token_id=tokenizer.pad_token_id,
        id2label={i: label for i, label in enumerate(LABELS)},
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    model.eval()
    model.save_pretrained(str(path))
    if version:
        (path / META_FILE).write_text(
            json.dumps({"version": version, "kind": "tiny-random-test"}, indent=2) + "\n",
            encoding="utf-8",
        )
    return path


__all__ = ["build_tiny_random_model", "build_tiny_tokenizer"]
