"""case_letter.subject_redacted / subject_withheld: each message's subject line, redacted and verified
with its text, or marked withheld when it could not be verified

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_redacted", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("subject_withheld", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("case_letter", schema=None) as batch_op:
        batch_op.drop_column("subject_withheld")
        batch_op.drop_column("subject_redacted")
