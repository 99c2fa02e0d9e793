"""criteria versions: a flag for development data whose publication date is set in the past

Revision ID: b7d1e0c4a2f1
Revises: 23c707ccd6b9
Create Date: 2026-12-02 00:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'b7d1e0c4a2f1'
down_revision: Union[str, Sequence[str], None] = '23c707ccd6b9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('criteria_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backdated', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('criteria_versions', schema=None) as batch_op:
        batch_op.drop_column('backdated')
