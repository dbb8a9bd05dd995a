"""The six sequencing tables and the code that reads and writes their rows.

Column types, the declarative mixins, the mapped classes built on a host's metadata
(:mod:`~sa_sequencing.store.tables`), the repositories a host may subclass, row
claims and the savepoint helper.  It knows the rules below it and nothing of the
dialect strategies, the allocator or the managers above it.
"""
