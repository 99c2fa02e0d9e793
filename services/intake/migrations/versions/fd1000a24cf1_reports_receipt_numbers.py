"""reports: receipt numbers (受付番号)

Revision ID: fd1000a24cf1
Revises: 5fc9f65b42c4
Create Date: 2026-12-05 01:05:08.961186

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


# revision identifiers, used by Alembic.
revision: str = 'fd1000a24cf1'
down_revision: Union[str, Sequence[str], None] = '5fc9f65b42c4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The 受付番号 of each report (null on rows from before it), unique."""
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_number', sa.String(length=10), nullable=True))
        batch_op.create_index('ix_reports_receipt_number', ['receipt_number'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_receipt_number')
        batch_op.drop_column('receipt_number')
