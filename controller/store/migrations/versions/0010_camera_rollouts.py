"""Camera firmware rollouts: a rollout's ``kind`` and pinned ``image``, and a ``camera_id`` in
each rollout unit (part of its key, so one gateway's cameras are separate units).

The key of ``rollout_gateways`` changes, which SQLite cannot alter in place: the table is built
anew under a temporary name, the rows are copied (``camera_id`` empty: agent rollouts), and it
takes the old name. The same steps work on PostgreSQL.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (
    "rollout_id, gateway_id, wave, status, reason, progress, command_id, started_at, "
    "updated_at, finished_at"
)


def _units(name: str, *, camera: bool) -> None:
    key = [
        sa.Column("rollout_id", sa.String(16), primary_key=True),
        sa.Column("gateway_id", sa.String(64), primary_key=True),
    ]
    if camera:
        key.append(sa.Column("camera_id", sa.String(64), primary_key=True, server_default=""))
    op.create_table(
        name,
        *key,
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("progress", sa.Float, nullable=True),
        sa.Column("command_id", sa.String(32), nullable=True),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )


def _swap(*, camera: bool) -> None:
    _units("rollout_gateways_new", camera=camera)
    # constant text only: the column list above and, going down, agent rows only
    copy = f"INSERT INTO rollout_gateways_new ({COLUMNS}) SELECT {COLUMNS} FROM rollout_gateways"  # noqa: S608
    op.execute(copy if camera else copy + " WHERE camera_id = ''")
    op.drop_index("rollout_gateways_gw", "rollout_gateways")
    op.drop_table("rollout_gateways")
    op.rename_table("rollout_gateways_new", "rollout_gateways")
    op.create_index("rollout_gateways_gw", "rollout_gateways", ["gateway_id"])


def upgrade() -> None:
    with op.batch_alter_table("rollouts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="agent"))
        batch.add_column(sa.Column("image", sa.Text, nullable=True))
    _swap(camera=True)


def downgrade() -> None:
    op.execute(
        "DELETE FROM rollout_gateways WHERE rollout_id IN "
        "(SELECT id FROM rollouts WHERE kind <> 'agent')"
    )
    op.execute("DELETE FROM rollouts WHERE kind <> 'agent'")
    _swap(camera=False)
    with op.batch_alter_table("rollouts") as batch:
        batch.drop_column("image")
        batch.drop_column("kind")
