"""tracked requests: the right claimed, so a repeat links to the earlier request of the same content

Revision ID: d4e8a1f07b3c
Revises: 04736d24a033
Create Date: 2026-12-02 00:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'd4e8a1f07b3c'
down_revision: Union[str, Sequence[str], None] = '04736d24a033'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('tracked_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('right_infringed', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tracked_requests', schema=None) as batch_op:
        batch_op.drop_column('right_infringed')
