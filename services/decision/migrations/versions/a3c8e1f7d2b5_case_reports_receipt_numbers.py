"""case_reports.receipt_number: intake's 受付番号, carried in report.received, for the queue search

Revision ID: a3c8e1f7d2b5
Revises: d4f8a2c6e1b9
Create Date: 2026-12-05 05:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'a3c8e1f7d2b5'
down_revision: Union[str, Sequence[str], None] = 'd4f8a2c6e1b9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_number', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_reports_receipt_number'), ['receipt_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_reports_receipt_number'))
        batch_op.drop_column('receipt_number')
