"""One ``Sequencing`` per set of tables: a second one on the same metadata (without a
``table_prefix`` of its own) is a clear ConfigurationError, and a refused constructor
leaves nothing registered (issue 10)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm import mapped_column

from sa_sequencing import AuditRepository
from sa_sequencing import ConfigurationError
from sa_sequencing import CounterMixin
from sa_sequencing import Sequencing
from sa_sequencing.allocation.runtime import instances


def registered(base: type[DeclarativeBase]) -> tuple[set[str], set[str], list[Sequencing]]:
    """The tables, mapped classes and sequencings of ``base``'s metadata."""
    return (
        set(base.metadata.tables),
        {m.class_.__name__ for m in base.registry.mappers},
        [s for s in instances() if s.metadata is base.metadata],
    )


def test_a_second_sequencing_on_the_same_metadata_is_refused(engine):
    class HostBase(DeclarativeBase):
        pass

    first = Sequencing(HostBase, table_prefix="orm_dup_")
    before = registered(HostBase)
    with pytest.raises(ConfigurationError) as refused:
        Sequencing(HostBase, table_prefix="orm_dup_")
    message = str(refused.value)
    assert "'orm_dup_sequences'" in message
    assert "another Sequencing" in message
    assert "reuse" in message
    assert "table_prefix=" in message
    # the same through the metadata (a private base on the same MetaData)
    with pytest.raises(ConfigurationError, match="another Sequencing"):
        Sequencing(HostBase.metadata, table_prefix="orm_dup_")
    # nothing half-registered
    assert registered(HostBase) == before
    # a prefix of its own works beside the first, in the same metadata and database
    second = Sequencing(HostBase, table_prefix="orm_dup2_")
    configure_mappers()
    assert set(registered(HostBase)[2]) == {first, second}
    HostBase.metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            for sequencing, pattern in ((first, "F-{COUNTER}"), (second, "S-{COUNTER}")):
                seqs = sequencing.manager(session)
                seqs.define("x", pattern)
                assert [seqs.generate("x"), seqs.generate("x")] == [
                    pattern.replace("{COUNTER}", "1"),
                    pattern.replace("{COUNTER}", "2"),
                ]
        with engine.connect() as conn:
            for sequencing, pattern in ((first, "F-{COUNTER}"), (second, "S-{COUNTER}")):
                rows = conn.execute(sa.select(sequencing.tables.sequences.c.pattern)).all()
                assert [tuple(r) for r in rows] == [(pattern,)]
    finally:
        HostBase.metadata.drop_all(engine)


def test_a_host_table_of_the_same_name_is_refused():
    class HostBase(DeclarativeBase):
        pass

    class Rule(HostBase):
        __tablename__ = "orm_host_sequences"
        id: Mapped[int] = mapped_column(primary_key=True)

    before = registered(HostBase)
    with pytest.raises(ConfigurationError, match=r"already has a table 'orm_host_sequences'"):
        Sequencing(HostBase, table_prefix="orm_host_")
    assert registered(HostBase) == before
    Sequencing(HostBase, table_prefix="orm_host2_")
    configure_mappers()


def test_a_refused_constructor_leaves_nothing_behind():
    class HostBase(DeclarativeBase):
        pass

    class Misplaced(CounterMixin, HostBase):
        __tablename__ = "orm_misplaced_counters"

    before = registered(HostBase)
    with pytest.raises(ConfigurationError, match="__sequences_tablename__"):
        Sequencing(HostBase, table_prefix="orm_zz_", counter_class=Misplaced)
    with pytest.raises(ConfigurationError, match="must subclass GapRepository"):
        Sequencing(HostBase, table_prefix="orm_zz_", repositories={"gap": AuditRepository})
    assert registered(HostBase) == before
    # the same prefix again, now right: nothing of the refused attempts is in the way
    sequencing = Sequencing(HostBase, table_prefix="orm_zz_")
    configure_mappers()
    assert registered(HostBase)[2] == [sequencing]
    assert "orm_zz_sequences" in HostBase.metadata.tables
