"""A torture harness for ``sa_sequencing``: worker processes numbering documents
under every gap policy while the harness kills them, kills their connections and
restarts or crashes a private database server; a checker then proves that no number
was issued twice, every hole is explained, nothing acknowledged is missing and no
counter stays locked.

Run it from the repository root (``bench/README.md`` explains the method)::

    python -m bench.torture --backend postgresql --minutes 10 --workers 8

Modules: :mod:`.schema` (the tables and sequences), :mod:`.servers` (the private
PostgreSQL cluster and mariadbd), :mod:`.worker` (one worker process),
:mod:`.faults` (the fault injector), :mod:`.checker` (the verdict) and
:mod:`.__main__` (the command).
"""
