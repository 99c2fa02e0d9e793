"""Minimal pairs on the shipped model: the score must move with the attack,
not with the register, the reply handle or the topic's vocabulary.

The sentences here were written for this test and are checked to be absent
from the training corpus, so the test measures behaviour, not memory.
"""
import pytest

from services.classifier.training import data as D

# (benign, the same post with an attack on a person)
ATTACK_PAIRS = [
    # an attack after a benign first sentence
    ("今日の試合、審判の判定ひどすぎて声出たわ",
     "今日の試合、審判の判定ひどすぎて声出たわ。あの審判の家突き止めて燃やしてやる"),
    ("明日のプレゼン資料まだ半分しかできてない、徹夜確定",
     "明日のプレゼン資料まだ半分しかできてない。全部課長のせい、あのハゲほんと死ねばいいのに"),
    ("新しく入ったバイトの子、仕事覚えるの早くて助かる",
     "新しく入ったバイトの子、仕事覚えるの遅すぎ。顔もブスだし頭も悪いし生きてる価値ないわ"),
    ("隣の部屋の人、毎朝ちゃんと挨拶してくれて感じいい",
     "隣の部屋の女、毎朝7時15分に家出て駅まで一人で歩いてるから、誰か待ち伏せしてやれよ"),
    ("ランク戦で負けまくって草、今日はもう寝るわ",
     "ランク戦で負けたのはお前のせいだろ雑魚、二度とゲームすんなカス"),
    ("その政策には反対です。財源の説明が足りていないと思います",
     "その政策には反対です。あんな政策を考える在日どもは日本から出ていけ"),
    ("あのカフェのケーキ、値段のわりに小さくてがっかりした",
     "あのカフェの店長、裏で客の財布から金抜いてるって有名だよ。前科もあるらしい"),
]

# benign posts: the same content in a polite and in a rough register
REGISTER_PAIRS = [
    ("その案にはちょっと賛成できません", "その案にはちょっと賛成できねーわ"),
    ("もう遅いので早く休んでくださいね", "もう遅いんだからさっさと休めや"),
    ("このカレー、本当に美味しいです", "このカレーまじでうめえぞ"),
    ("まだたくさんあるので遠慮なく召し上がってください", "まだ山ほどあるから遠慮せず食っとけ"),
    ("いや、さすがにそれはないと思いますよ", "いやさすがにそれはねーだろ"),
    ("電車が遅れていて本当に困ります", "電車また遅れてんのかよクソが"),
]

# the same post with and without a reply handle
HANDLE_PAIRS = [
    ("昨日のライブ最高だったね、また一緒に行こう", "@sora_0731 昨日のライブ最高だったね、また一緒に行こう"),
    ("お前の顔見るだけで吐き気するわ、消えろ", "@sora_0731 お前の顔見るだけで吐き気するわ、消えろ"),
]


@pytest.fixture(scope="module")
def corpus_keys():
    examples, _ = D.load_corpus()
    return {D.normalise(e.text) for e in examples}


def _all_texts():
    for pair in ATTACK_PAIRS + REGISTER_PAIRS + HANDLE_PAIRS:
        yield from (pair.values if hasattr(pair, "values") else pair)


def test_sentences_are_not_in_the_corpus(corpus_keys):
    assert not [t for t in _all_texts() if D.normalise(t) in corpus_keys]


def _scores(shipped, texts):
    # Each post alone: int8 serving takes one activation scale per batch, so a post's score
    # moves a little with the posts batched beside it (model card, "Known failure modes").
    return [shipped.score([text])[0]["score"] for text in texts]


@pytest.mark.parametrize("benign,attack", ATTACK_PAIRS)
def test_score_moves_with_the_attack(shipped, benign, attack):
    s_benign, s_attack = _scores(shipped, [benign, attack])
    assert s_benign < 0.5, (benign, s_benign)
    assert s_attack >= 0.5, (attack, s_attack)
    assert s_attack - s_benign >= 0.3


@pytest.mark.parametrize("polite,rough", REGISTER_PAIRS)
def test_register_alone_is_not_abuse(shipped, polite, rough):
    s_polite, s_rough = _scores(shipped, [polite, rough])
    assert s_polite < 0.5 and s_rough < 0.5, (s_polite, s_rough)
    assert abs(s_rough - s_polite) < 0.35


@pytest.mark.parametrize("bare,with_handle", HANDLE_PAIRS)
def test_reply_handle_does_not_decide(shipped, bare, with_handle):
    s_bare, s_handle = _scores(shipped, [bare, with_handle])
    assert (s_bare >= 0.5) == (s_handle >= 0.5), (s_bare, s_handle)
    assert abs(s_bare - s_handle) < 0.3


def test_polite_abuse_is_still_abuse(shipped):
    veiled = ["いつも駅の北口から帰られてますよね。夜道にはくれぐれもお気をつけくださいませ",
              "あなたのようなご理解の浅い方は、二度と発言なさらないほうが世のためかと存じます"]
    assert min(_scores(shipped, veiled)) >= 0.5
