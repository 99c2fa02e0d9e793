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
from services.decision.models import Clause, CriteriaVersion

STARTER_VERSION = "2025.1"
# Development data only (backdate=True): 2025-04-01 00:00 JST, when the Act came into force.
BACKDATED_PUBLISHED_AT = dt.datetime(2025, 3, 31, 15, 0, tzinfo=dt.timezone.utc)

ALL_ROUTES = ["request", "report", "own_detection"]

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
        "text": "生命、身体、自由、名誉または財産に対して危害を加える旨を告知する投稿。削除の対象とし、"
                "悪質な場合や繰り返される場合はアカウントを停止します。",
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
                "特定の人または集団を侮蔑し、排除や危害を扇動する投稿。削除の対象とし、繰り返す場合は"
                "アカウントを停止します。",
        "examples": ["特定の国籍の人々に「出ていけ」「駆除しろ」と呼びかける投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "S-1", "category": "sexual", "title": "同意のない性的画像・性的嫌がらせ",
        "text": "本人の同意なく撮影または公開された性的な画像・動画（いわゆるリベンジポルノを含む）、"
                "およびその公開をほのめかす投稿、特定の人への性的な嫌がらせ。削除の対象とし、"
                "アカウントを停止します。",
        "examples": ["元交際相手の私的な画像を公開する、または公開すると脅す投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "M-1", "category": "impersonation", "title": "なりすまし",
        "text": "他人の氏名、写真、アカウント名などを用いて本人になりすまし、誤認させる投稿またはアカウント。"
                "投稿の削除およびアカウントの停止の対象とします。",
        "examples": ["実在の人物の写真と名前を使い本人を装うアカウント"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
    },
    {
        "clause_id": "X-1", "category": "spam", "title": "スパム・迷惑行為",
        "text": "同一または類似の内容の大量投稿、無関係な宣伝、フィッシングサイトへの誘導など、"
                "サービスの利用を妨げる投稿。削除の対象とし、繰り返す場合はアカウントを停止します。",
        "examples": ["多数の返信欄に同じ宣伝リンクを貼り付ける投稿"],
        "measures": ["remove", "hide", "suspend_account"], "covers_suspension": True,
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
