"""web sessions, keyed audit entries, where a case's post came from, legal holds and retention

Revision ID: f53aec03be17
Revises: 188563bc3446
Create Date: 2026-12-01 23:52:14.188145

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


# revision identifiers, used by Alembic.
revision: str = 'f53aec03be17'
down_revision: Union[str, Sequence[str], None] = '188563bc3446'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('web_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        # Entries written before keying keep the plain SHA-256 they were chained with.
        batch_op.add_column(sa.Column('scheme', sa.String(length=16), server_default='sha256', nullable=False))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_evidence', sa.String(length=16), server_default='sns', nullable=False))
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('legal_hold_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('requester_data_removed_at', shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('post_removed_at', shared.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('post_removed_at')
        batch_op.drop_column('requester_data_removed_at')
        batch_op.drop_column('legal_hold_reason')
        batch_op.drop_column('legal_hold')
        batch_op.drop_column('post_evidence')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('scheme')

    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))

    op.drop_table('web_sessions')
