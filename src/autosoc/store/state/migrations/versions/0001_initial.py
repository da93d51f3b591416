"""The initial state schema: cursors, component state, signals, incidents, dead letters, checkpoints, meta.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
#: SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid)
_ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('checkpoints',
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('committed_at', _TIME, nullable=False),
        sa.Column('events', sa.BigInteger(), nullable=False),
        sa.Column('signals', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_checkpoints'))
    )
    op.create_table('component_state',
        sa.Column('component', sa.Text(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.Column('updated_at', _TIME, nullable=False),
        sa.PrimaryKeyConstraint('component', 'key', name=op.f('pk_component_state'))
    )
    op.create_table('cursors',
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('cursor', sa.JSON(), nullable=False),
        sa.Column('updated_at', _TIME, nullable=False),
        sa.PrimaryKeyConstraint('source', 'key', name=op.f('pk_cursors'))
    )
    op.create_table('dead_letters',
        sa.Column('id', _ROWID, nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('record', sa.BigInteger(), nullable=True),
        sa.Column('offset', sa.BigInteger(), nullable=True),
        sa.Column('field', sa.Text(), nullable=True),
        sa.Column('stage', sa.Text(), nullable=False),
        sa.Column('code', sa.Text(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('raw', sa.Text(), nullable=False),
        sa.Column('created_at', _TIME, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    op.create_index('ix_dead_letters_code', 'dead_letters', ['stage', 'code'], unique=False)
    op.create_table('incidents',
        sa.Column('incident_id', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('severity', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('risk', sa.Float(), nullable=False),
        sa.Column('first_seen', _TIME, nullable=False),
        sa.Column('last_seen', _TIME, nullable=False),
        sa.Column('tactics', sa.JSON(), nullable=False),
        sa.Column('techniques', sa.JSON(), nullable=False),
        sa.Column('entities', sa.JSON(), nullable=False),
        sa.Column('signal_ids', sa.JSON(), nullable=False),
        sa.Column('merged_into', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', _TIME, nullable=False),
        sa.Column('updated_at', _TIME, nullable=False),
        sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_incidents'))
    )
    op.create_index('ix_incidents_last_seen', 'incidents', ['last_seen'], unique=False)
    op.create_index('ix_incidents_status_last_seen', 'incidents', ['status', 'last_seen'], unique=False)
    op.create_table('meta',
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_meta'))
    )
    op.create_table('signals',
        sa.Column('signal_id', sa.Text(), nullable=False),
        sa.Column('detector', sa.Text(), nullable=False),
        sa.Column('rule_id', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('level', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('risk', sa.BigInteger(), nullable=False),
        sa.Column('time', _TIME, nullable=True),
        sa.Column('host', sa.Text(), nullable=True),
        sa.Column('user', sa.Text(), nullable=True),
        sa.Column('entities', sa.JSON(), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('event_ids', sa.JSON(), nullable=False),
        sa.Column('origins', sa.JSON(), nullable=False),
        sa.Column('matched', sa.JSON(), nullable=False),
        sa.Column('rule_path', sa.Text(), nullable=True),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('explanation', sa.Text(), nullable=False),
        sa.Column('incident_id', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('signal_id', name=op.f('pk_signals'))
    )
    op.create_index('ix_signals_incident_id', 'signals', ['incident_id'], unique=False)
    op.create_index('ix_signals_time', 'signals', ['time'], unique=False)


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_table("meta")
    op.drop_table("incidents")
    op.drop_table("dead_letters")
    op.drop_table("cursors")
    op.drop_table("component_state")
    op.drop_table("checkpoints")
