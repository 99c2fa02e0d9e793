"""urgent_alerts: new urgent cases waiting for delivery to the operator's webhook

Revision ID: b6e2d9f4c1a8
Revises: a3c8e1f7d2b5
Create Date: 2026-12-05 05:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = 'b6e2d9f4c1a8'
down_revision: Union[str, Sequence[str], None] = 'a3c8e1f7d2b5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'urgent_alerts',
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('priority', sa.Float(), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=True),
        sa.Column('deadline_at', shared.db.UTCDateTime(), nullable=True),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', shared.db.UTCDateTime(), nullable=True),
        sa.Column('last_attempt_at', shared.db.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('delivered_at', shared.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
        sa.PrimaryKeyConstraint('case_id'))
    op.create_index('ix_urgent_alerts_due', 'urgent_alerts', ['delivered_at', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_urgent_alerts_due', table_name='urgent_alerts')
    op.drop_table('urgent_alerts')
