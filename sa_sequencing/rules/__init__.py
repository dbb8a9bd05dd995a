"""The numbering rules: patterns, periods, definitions and counter arithmetic.

Pure functions and values: nothing here touches a connection, a session or a table,
so every rule is tested without a database (``tests/rules/``).  The layers above
(:mod:`~sa_sequencing.store`, :mod:`~sa_sequencing.dialects`,
:mod:`~sa_sequencing.allocation.allocator`, :mod:`~sa_sequencing.service`) import from here,
never the other way round.
"""
