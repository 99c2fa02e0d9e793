"""drop cases.deadline_alert: no longer written; the queue computes a deadline's nearness from
next_deadline_at

Revision ID: f1c3d5e7a9b2
Revises: b6e2d9f4c1a8
Create Date: 2026-12-05 06:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'f1c3d5e7a9b2'
down_revision: Union[str, Sequence[str], None] = 'b6e2d9f4c1a8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop a column in place (the table is copied); PostgreSQL alters it.
    # shared/alembic_env.py turns SQLite's foreign keys off for the copy.
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('deadline_alert')


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('deadline_alert', sa.Boolean(), nullable=False, server_default=sa.false()))
