"""the specialist roster (§24), criteria amendments due after urgent measures (§26(3)) and legal holds on evidence (§15, §16), which replace the cases' single legal_hold flag

Revision ID: e9b3c7d5a1f2
Revises: c5a2e9d3b8f4
Create Date: 2026-12-02 00:50:00

"""
import datetime as dt
import uuid
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
    held = _cases_held_by_flag()
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('legal_hold_reason')
        batch_op.drop_column('legal_hold')
    _place_holds(held)


# A case held with the earlier flag (cases.legal_hold) keeps its hold: one active hold with the
# flag's reason as its reference. Written after the cases table is rebuilt (SQLite batch mode
# drops and recreates it, which rows referring to it would block).

def _cases_held_by_flag() -> list[tuple[str, str | None]]:
    cases = sa.table('cases', sa.column('id'), sa.column('legal_hold'), sa.column('legal_hold_reason'))
    query = sa.select(cases.c.id, cases.c.legal_hold_reason).where(cases.c.legal_hold.is_(True))
    return [tuple(row) for row in op.get_bind().execute(query)]


def _place_holds(held: list[tuple[str, str | None]]) -> None:
    holds = sa.table('legal_holds', sa.column('id'), sa.column('case_id'), sa.column('basis'),
                     sa.column('reference'), sa.column('placed_by'), sa.column('placed_at', shared.db.UTCDateTime()))
    now = dt.datetime.now(dt.timezone.utc)
    for case_id, reason in held:
        op.get_bind().execute(holds.insert().values(id=str(uuid.uuid4()), case_id=case_id, basis='litigation',
                                                    reference=reason, placed_by='migration:legal_hold_flag',
                                                    placed_at=now))


def downgrade() -> None:
    conn = op.get_bind()
    held = dict(conn.execute(sa.text("SELECT case_id, reference FROM legal_holds WHERE lifted_at IS NULL "
                                     "ORDER BY placed_at DESC")).all())  # the earliest hold's reference wins
    op.drop_index('ix_legal_holds_case_id', table_name='legal_holds')
    op.drop_table('legal_holds')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('legal_hold_reason', sa.String(length=500), nullable=True))
    cases = sa.table('cases', sa.column('id'), sa.column('legal_hold'), sa.column('legal_hold_reason'))
    for case_id, reference in held.items():
        conn.execute(cases.update().where(cases.c.id == case_id).values(legal_hold=True, legal_hold_reason=reference))
    op.drop_table('criteria_amendments_due')
    op.drop_index('ix_specialist_appointments_user_id', table_name='specialist_appointments')
    op.drop_table('specialist_appointments')
