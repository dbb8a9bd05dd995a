"""What callers hold: :class:`~sa_sequencing.Sequencing`, the
:class:`~sa_sequencing.SequenceManager` and its async twin.

The manager's public methods live in four files by topic: definitions and drawing
(:mod:`~sa_sequencing.service.manager`), the number lifecycle after issue
(:mod:`~sa_sequencing.service.lifecycle`), reservations
(:mod:`~sa_sequencing.service.reservations`) and figures
(:mod:`~sa_sequencing.service.metrics`), on one base
(:mod:`~sa_sequencing.service.base`).  The ORM hook is this layer's sibling: neither
imports the other.
"""
