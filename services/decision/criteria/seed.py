"""The starter catalogue of deletion criteria (送信防止措置の実施に関する基準, §26).

Operators replace it with their own published criteria through the admin page. A fresh
installation publishes this version when it is seeded: it governs measures only 14 days later
(§26). Development and test data may date it back (``backdate=True``) so that it applies at
once; the version is then marked, and the public page says that the date is not real.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db import Database, utcnow
from services.decision.criteria.models import Clause, CriteriaVersion

STARTER_VERSION = "2025.1"
# Development data only (backdate=True): 2025-04-01 00:00 JST, when the Act came into force.
BACKDATED_PUBLISHED_AT = dt.datetime(2025, 3, 31, 15, 0, tzinfo=dt.timezone.utc)

ALL_ROUTES = ["request", "report", "own_detection"]

# The rights the request form offers, and the clause category that answers each.
RIGHT_CATEGORIES = {"名誉権": "defamation", "プライバシー": "privacy", "肖像権": "portrait", "著作権": "copyright"}

STARTER_CLAUSES = [
    {
        "clause_id": "D-1", "category": "defamation", "title": "名誉毀損",
        "text": "特定の人（個人・法人）について、事実を示して社会的評価を低下させる投稿で、"
                "公共の利害に関する事実で公益を図る目的があり真実と信じる相当の理由がある場合を除くもの。"
                "削除または非表示の対象とします。",
        "examples": ["「○○店の店長は横領している」と根拠なく断定する投稿"],
        "measures": ["remove", "hide"], "covers_suspension": False,
    },
    {
        "clause_id": "P-1", "category": "privacy", "title": "プライバシー侵害",
        "text": "本人の同意なく、住所・電話番号・勤務先・学校・本名・家族構成など、私生活上の事実や"
                "個人を特定できる情報を公開する投稿。削除または非表示の対象とします。",
        "examples": ["他人の自宅住所と写真を投稿し「ここに住んでいる」と晒す投稿"],
        "measures": ["remove", "hide"], "covers_suspension": False,
    },
    {
        "clause_id": "T-1", "category": "threat", "title": "脅迫・危害の予告",
        "text": "生命、身体、自由、名誉または財産に対して危害を加える旨を告知する投稿。削除の対象とします。"
                "日時・場所・方法を示した具体的な予告は1回目からアカウントを30日間停止し、"
                "停止の終了から180日以内に再び措置を受けた場合は無期限に停止します（A-1も参照）。",
        "examples": ["「明日家に行って殺す」などの投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "I-1", "category": "insult", "title": "侮辱",
        "text": "事実を示さずに特定の人を侮辱し、社会通念上許される限度を超える投稿（人格を否定する罵倒、"
                "容姿への執拗な中傷など）。削除または非表示の対象とします。",
        "examples": ["特定の利用者に対し「死ね」「生きる価値がない」と繰り返す投稿"],
        "measures": ["remove", "hide"], "covers_suspension": False,
    },
    {
        "clause_id": "H-1", "category": "discrimination", "title": "差別的言動",
        "text": "国籍、民族、人種、性別、性的指向、性自認、障害、出身地、宗教などの属性を理由として、"
                "特定の人または集団を侮蔑し、排除や危害を扇動する投稿。削除の対象とし、"
                "A-1の基準（180日以内に3回の措置で30日間停止、その後180日以内の再違反で無期限停止）により"
                "アカウントを停止します。",
        "examples": ["特定の国籍の人々に「出ていけ」「駆除しろ」と呼びかける投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "S-1", "category": "sexual", "title": "同意のない性的画像・性的嫌がらせ",
        "text": "本人の同意なく撮影または公開された性的な画像・動画（いわゆるリベンジポルノを含む）、"
                "およびその公開をほのめかす投稿、特定の人への性的な嫌がらせ。削除の対象とします。"
                "画像・動画を公開した場合は1回目から無期限にアカウントを停止し、ほのめかし・嫌がらせは"
                "A-1の基準（180日以内に3回の措置で30日間停止）により停止します。",
        "examples": ["元交際相手の私的な画像を公開する、または公開すると脅す投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "M-1", "category": "impersonation", "title": "なりすまし",
        "text": "他人の氏名、写真、アカウント名などを用いて本人になりすまし、誤認させる投稿またはアカウント。"
                "投稿は削除し、なりすましのために作られたアカウントは1回目から無期限に停止します。"
                "本人が名義を改めれば停止を解除します。",
        "examples": ["実在の人物の写真と名前を使い本人を装うアカウント"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "X-1", "category": "spam", "title": "スパム・迷惑行為",
        "text": "同一または類似の内容の大量投稿、無関係な宣伝、フィッシングサイトへの誘導など、"
                "サービスの利用を妨げる投稿。削除の対象とし、24時間以内に同種の投稿を10回以上した"
                "アカウントは7日間、その後180日以内に再び行った場合は無期限に停止します。",
        "examples": ["多数の返信欄に同じ宣伝リンクを貼り付ける投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "C-1", "category": "copyright", "title": "著作権侵害",
        "text": "他人が著作権を持つ文章・写真・イラスト・動画・音楽などを、権利者の許諾なく、引用の要件"
                "（出所の明示、主従関係など）を満たさずに掲載する投稿。権利者またはその代理人からの申出により"
                "削除または非表示の対象とします。180日以内に3回の措置を受けたアカウントはA-1により30日間停止します。",
        "examples": ["漫画の単行本のページを撮影して連続で掲載する投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True, "routes": ["request"],
    },
    {
        "clause_id": "R-1", "category": "portrait", "title": "肖像権侵害",
        "text": "本人の同意なく、容貌や姿態を撮影した写真・動画を、社会生活上受忍すべき限度を超えて公開する投稿"
                "（私的な場所での撮影、容姿をからかう目的での公開など）。本人またはその代理人からの申出により"
                "削除または非表示の対象とします。",
        "examples": ["通勤中の人を隠し撮りし、顔がわかる状態で「変な服」と添えて投稿する"],
        "measures": ["remove", "hide"], "covers_suspension": False, "routes": ["request"],
    },
    {
        "clause_id": "K-1", "category": "trademark", "title": "商標権侵害",
        "text": "登録商標と同一または類似の標章を用いて、偽物の商品や無関係の役務を商標権者のものと誤認させる投稿。"
                "商標権者またはその代理人からの申出により削除の対象とします。",
        "examples": ["有名ブランドのロゴを付けた偽物のバッグを「正規品」として販売する投稿"],
        "measures": ["remove", "hide"], "covers_suspension": False, "routes": ["request"],
    },
    {
        "clause_id": "CP-1", "category": "csam", "title": "児童ポルノ",
        "text": "18歳未満の者の性的な姿態を描写した写真・動画（児童買春・児童ポルノ禁止法第2条第3項）を掲載し、"
                "またはその入手先を示す投稿。削除し、投稿したアカウントは1回目から無期限に停止します。",
        "examples": ["児童の性的な画像を掲載する、または入手先のリンクを示す投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "DR-1", "category": "drugs", "title": "違法薬物の売買",
        "text": "覚醒剤、大麻、麻薬など法令で所持や譲渡が禁止される薬物の売買、譲渡、入手方法の案内をする投稿。"
                "削除の対象とし、売買を持ちかけたアカウントは1回目から30日間、その後180日以内に再び行った場合は"
                "無期限に停止します。",
        "examples": ["隠語を用いて大麻の手渡しでの販売を持ちかける投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "F-1", "category": "fraud", "title": "詐欺・なりすましによる金銭の要求",
        "text": "投資・副業・当選などを装い、金銭や個人情報をだまし取ろうとする投稿や誘導。削除の対象とし、"
                "1回目から30日間、その後180日以内に再び行った場合は無期限にアカウントを停止します。",
        "examples": ["「必ず儲かる」と称して送金先を示し投資を勧誘する投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "SU-1", "category": "suicide", "title": "自殺の誘引・勧誘",
        "text": "自殺を呼びかけ、方法を具体的に教え、または一緒に自殺する相手を募る投稿。削除の対象とし、"
                "180日以内に2回の措置を受けたアカウントは30日間停止します。悩みを打ち明ける投稿は対象としません。",
        "examples": ["特定の人に自殺の方法を示して実行を促す投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "A-1", "category": "suspension", "title": "アカウント停止の基準",
        "text": "他の条項による措置（削除・非表示）を180日以内に3回受けたアカウントは30日間停止します。"
                "停止の終了から180日以内に再び措置を受けた場合は無期限に停止します。"
                "各条項が1回目から停止すると定める情報はその定めによります。停止した場合は、その条項、期間、"
                "異議の申立て方法をお知らせします。",
        "examples": ["侮辱にあたる投稿で180日以内に3回削除されたアカウントの30日間の停止"],
        "measures": ["suspend_account"], "covers_suspension": True,
    },
]


def seed_starter_criteria(db: Database, *, backdate: bool = False, now: dt.datetime | None = None) -> None:
    """Publish the starter criteria once: dated now, or, for development data, back to
    BACKDATED_PUBLISHED_AT with the version marked as backdated."""
    with db.unit_of_work() as uow:
        if uow.session.scalar(sa.select(sa.func.count()).select_from(CriteriaVersion)):
            return
        published_at = BACKDATED_PUBLISHED_AT if backdate else (now or utcnow())
        uow.session.add(CriteriaVersion(version=STARTER_VERSION, status="published", backdated=backdate,
                                        published_at=published_at, created_at=now or utcnow(),
                                        note="初版（スターター基準）"))
        uow.session.flush()
        for clause in STARTER_CLAUSES:
            uow.session.add(Clause(version=STARTER_VERSION, **{"routes": ALL_ROUTES, **clause}))
        uow.commit()
