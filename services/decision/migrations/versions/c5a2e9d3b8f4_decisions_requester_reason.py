"""decisions: the reason told to requesters (N2, N3), apart from the moderator's own note

Revision ID: c5a2e9d3b8f4
Revises: b7d1e0c4a2f1
Create Date: 2026-12-02 00:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'c5a2e9d3b8f4'
down_revision: Union[str, Sequence[str], None] = 'b7d1e0c4a2f1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('requester_reason')
