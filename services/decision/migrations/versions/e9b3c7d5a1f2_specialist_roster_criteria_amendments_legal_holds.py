"""the specialist roster (§24), criteria amendments due after urgent measures (§26(3)) and legal holds on evidence (§15, §16); cases remember when their evidence was erased

Revision ID: e9b3c7d5a1f2
Revises: c5a2e9d3b8f4
Create Date: 2026-12-02 00:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = 'e9b3c7d5a1f2'
down_revision: Union[str, Sequence[str], None] = 'c5a2e9d3b8f4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'specialist_appointments',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('appointed_by', sa.String(length=200), nullable=False),
        sa.Column('appointed_at', shared.db.UTCDateTime(), nullable=False),
        sa.Column('ended_by', sa.String(length=200), nullable=True),
        sa.Column('ended_at', shared.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_specialist_appointments_user_id', 'specialist_appointments', ['user_id'])
    op.create_table(
        'criteria_amendments_due',
        sa.Column('decision_id', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('raised_at', shared.db.UTCDateTime(), nullable=False),
        sa.Column('resolved_by_version', sa.String(length=32), nullable=True),
        sa.Column('resolved_at', shared.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('decision_id'))
    op.create_table(
        'legal_holds',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('basis', sa.String(length=64), nullable=False),
        sa.Column('reference', sa.String(length=500), nullable=True),
        sa.Column('placed_by', sa.String(length=200), nullable=False),
        sa.Column('placed_at', shared.db.UTCDateTime(), nullable=False),
        sa.Column('lifted_by', sa.String(length=200), nullable=True),
        sa.Column('lifted_at', shared.db.UTCDateTime(), nullable=True),
        sa.Column('lift_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_legal_holds_case_id', 'legal_holds', ['case_id'])
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_erased_at', shared.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('evidence_erased_at')
    op.drop_index('ix_legal_holds_case_id', table_name='legal_holds')
    op.drop_table('legal_holds')
    op.drop_table('criteria_amendments_due')
    op.drop_index('ix_specialist_appointments_user_id', table_name='specialist_appointments')
    op.drop_table('specialist_appointments')
