"""Drawing numbers: the machinery between the managers and the dialect strategies.

Internal: nothing here is re-exported, and its names may change between releases.
:class:`~sa_sequencing.allocation.runtime.Runtime` holds what one set of tables shares;
:class:`~sa_sequencing.allocation.allocator.Allocator` draws; the caches remember
definitions, pattern versions and placements; :mod:`~sa_sequencing.allocation.batch`
numbers the documents of a flush.  Collaborators are passed in, never reached
through a reference back up: the service and the ORM hook stand on this layer.
"""
