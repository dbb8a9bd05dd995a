"""ORM integration: declare a numbered column, and the flush numbers your documents.

::

    class Invoice(Base):
        __tablename__ = "invoices"
        id: Mapped[int] = mapped_column(primary_key=True)
        tenant_id: Mapped[str]
        department: Mapped[str]
        issued_on: Mapped[date]
        status: Mapped[str] = mapped_column(default="draft")
        number: Mapped[str | None] = SequenceColumn(
            "invoice_number",
            scope="tenant_id",                              # attribute name or callable
            context=lambda inv: {"DEPARTMENT": inv.department},
            date="issued_on",                               # the document date
            when=lambda inv: inv.status == "posted",        # optional
        )

:func:`SequenceColumn` returns a :func:`~sqlalchemy.orm.mapped_column` (a
``String(255)`` unless ``type_`` says otherwise) marked in its ``Column.info``.  A
``before_flush`` hook (:mod:`sa_sequencing.orm.flush`) numbers every new object whose
value is empty, and every pending or persistent one for which ``when`` has become
true, in the flush's own transaction.  A value set by hand is never overwritten.

A new object's inputs see the row its INSERT will write (:mod:`.defaults`): the
column defaults SQLAlchemy computes in Python (``default="draft"``,
``default=date.today``) are applied, once, before ``scope``/``context``/``date``/
``when`` read the object, and the INSERT writes those very values.  An input that
only the database (or the INSERT itself) fills, such as a ``server_default``, a SQL
expression default, a default taking the execution context or an autoincrement key,
is a :class:`~sa_sequencing.ConfigurationError` before anything is written: an
attribute name at once, a callable when it reads the attribute.

The hook is installed for every :class:`~sqlalchemy.orm.Session` (and so every
``sessionmaker``, ``scoped_session`` and ``AsyncSession``) when the first
``SequenceColumn`` is declared.  :func:`install_flush_hook` with a ``sessionmaker``
scopes it to that factory instead; :func:`uninstall_flush_hook` removes it.

Which :class:`~sa_sequencing.Sequencing` draws a column's numbers: the one given as
``sequencing=``; else the one whose tables share the model's metadata; else the only
one in the process.  Anything else is a :class:`~sa_sequencing.ConfigurationError` at
the first flush, asking for ``sequencing=``.
"""

from __future__ import annotations

from .attributes import NumberedAttribute
from .attributes import numbered_attributes
from .column import SequenceColumn
from .flush import install_flush_hook
from .flush import uninstall_flush_hook
from .spec import INFO_KEY
from .spec import SequenceSpec

__all__ = [
    "INFO_KEY",
    "NumberedAttribute",
    "SequenceColumn",
    "SequenceSpec",
    "install_flush_hook",
    "numbered_attributes",
    "uninstall_flush_hook",
]
