"""reason templates per clause, internal notes on cases, case assignments, saved queue filters and viewer settings

Revision ID: d4f8a2c6e1b9
Revises: e9b3c7d5a1f2
Create Date: 2026-12-05 01:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = 'd4f8a2c6e1b9'
down_revision: Union[str, Sequence[str], None] = 'e9b3c7d5a1f2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'reason_templates',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('internal_note', sa.Text(), nullable=False),
        sa.Column('requester_text', sa.Text(), nullable=False),
        sa.Column('poster_text', sa.Text(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'))
    op.create_table(
        'case_notes',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_case_notes_case_id', 'case_notes', ['case_id'])
    op.create_table(
        'saved_filters',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('query', sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'name'))
    op.create_index('ix_saved_filters_user_id', 'saved_filters', ['user_id'])
    op.create_table(
        'viewer_settings',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('reveal_media', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('user_id'))
    op.create_table(
        'case_assignments',
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('assigned_by', sa.String(length=64), nullable=False),
        sa.Column('assigned_at', shared.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('case_id'))
    op.create_index('ix_case_assignments_user_id', 'case_assignments', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_case_assignments_user_id', table_name='case_assignments')
    op.drop_table('case_assignments')
    op.drop_table('viewer_settings')
    op.drop_index('ix_saved_filters_user_id', table_name='saved_filters')
    op.drop_table('saved_filters')
    op.drop_index('ix_case_notes_case_id', table_name='case_notes')
    op.drop_table('case_notes')
    op.drop_table('reason_templates')
