"""The ``sa_sequencing`` Alembic migration branch.

The revisions live in ``sa_sequencing/migrations/versions``, reachable from a host's
``alembic.ini`` as the package resource ``sa_sequencing:migrations/versions`` (see
:data:`sa_sequencing.alembic.VERSION_LOCATION`). They carry the branch label
``sa_sequencing`` and start from their own base, so a host's history joins them with
``alembic merge``.

Each revision is frozen: it spells out the tables as they were when it was written and
never reads the models, so applying it gives the same schema whatever version of the
package is installed. A change to :mod:`sa_sequencing.store.models` ships as a new revision on
this branch (``down_revision`` = the previous head of the branch); the test suite fails
while the models and the branch's head disagree.

The table prefix is the ``sa_sequencing.table_prefix`` option of the host's Alembic
configuration (:func:`sa_sequencing.alembic.table_prefix`).
"""
