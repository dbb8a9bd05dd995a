"""Keys compare exactly on every database: names, scopes, periods and reservation ids
that differ by case, accent, a trailing blank or any other character are different keys.

MySQL and MariaDB compare strings with the column's collation, and the server default
(``utf8mb4_general_ci``) folds case and accents, pads trailing spaces and weighs every
emoji alike: there ``acme`` and ``ACME`` drew from one counter until the key columns
were given a binary collation that does not pad (see :mod:`sa_sequencing.store.types`).
"""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemas import empty_tables
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import DuplicateSequenceError
from sa_sequencing import ReservationError
from sa_sequencing import SequenceNotFoundError
from sa_sequencing import Sequencing
from sa_sequencing import SequencingError
from sa_sequencing.store.types import KeyString
from sa_sequencing.store.types import exact_collation

#: Every column compared as a key (unique keys, primary keys, lookups by equality),
#: by table role.  ``audits.number`` is matched by equality when a batch rewords the
#: numbers it drew (``sa_sequencing.allocation.batch``).
KEY_COLUMNS = {
    "sequences": {"name", "scope"},
    "counters": {"scope", "period"},
    "reservations": {"reservation_id", "scope", "period"},
    "gaps": {"scope", "period"},
    "pattern_versions": set(),
    "audits": {"sequence_name", "scope", "number"},
}

# Characters that collations like utf8mb4_general_ci or utf8mb4_unicode_ci confuse:
# case, accents (composed and decomposed), sharp s, dotless i, a space inside, and
# emoji (general_ci weighs every character outside the BMP alike).
CONFUSABLE = "aAáÁeEéÉèsSßẞiI\u0131\u0130 \u0301😀😁🙂"

keys = st.text(alphabet=CONFUSABLE, min_size=1, max_size=4).filter(
    lambda s: s == s.strip() and not unicodedata.combining(s[0])
)
distinct_keys = st.lists(keys, min_size=2, max_size=6, unique=True)

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def table_of(sequencing: Sequencing, role: str) -> sa.Table:
    return getattr(sequencing.tables, role)  # type: ignore[no-any-return]


def reset(engine: sa.Engine, sequencing: Sequencing) -> None:
    """Empty the tables between two examples (the fixture does it once per test)."""
    empty_tables(engine, sequencing.tables.all(), sequencing)


def test_key_columns_are_exactly_the_key_string_columns() -> None:
    sequencing = Sequencing(sa.MetaData())
    for role, expected in KEY_COLUMNS.items():
        table = table_of(sequencing, role)
        found = {c.name for c in table.columns if isinstance(c.type, KeyString)}
        assert found == expected, role


def test_key_columns_compare_exactly_in_the_database(engine, sequencing) -> None:
    """On MySQL/MariaDB each key column has the server's no-pad binary collation,
    whatever the table's default; elsewhere strings compare exactly already."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("only MySQL and MariaDB compare with a per-column collation")
    expected = exact_collation(engine.dialect)
    if engine.dialect.is_mariadb:
        assert expected == "utf8mb4_nopad_bin"
    with engine.connect() as conn:
        for role, names in KEY_COLUMNS.items():
            table = table_of(sequencing, role)
            rows = conn.execute(
                sa.text(
                    "SELECT column_name, collation_name FROM information_schema.columns "
                    "WHERE table_schema = DATABASE() AND table_name = :t"
                ),
                {"t": table.name},
            ).all()
            collations = {name: collation for name, collation in rows}
            for name in names:
                assert collations[name] == expected, (table.name, name)


@PROPERTY
@given(scopes=distinct_keys)
@example(scopes=["acme", "ACME"])
@example(scopes=["é", "e"])
@example(scopes=["é", "e\u0301"])
@example(scopes=["😀", "😁"])
@example(scopes=["ß", "ss"])
@example(scopes=["a a", "a  a"])
def test_distinct_scopes_never_share_a_counter(engine, sequencing, sessions, scopes) -> None:
    reset(engine, sequencing)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        seqs.define("inv", "INV-{COUNTER}")  # the template of every scope
        seqs.define("own", "OWN-{COUNTER}", scope=scopes[0])
        for scope in scopes[1:]:
            seqs.define("own", "OWN-{COUNTER}", scope=scope)  # no DuplicateSequenceError
        assert [seqs.generate("inv", scope=s) for s in scopes] == ["INV-1"] * len(scopes)
        assert [seqs.generate("own", scope=s) for s in scopes] == ["OWN-1"] * len(scopes)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        assert [seqs.preview("inv", scope=s) for s in scopes] == ["INV-2"] * len(scopes)
        assert [seqs.get("own", scope=s).scope for s in scopes] == scopes
        for scope in scopes:
            numbers = [e.number for e in seqs.audit_log("inv", scope=scope)]
            assert numbers == ["INV-1"], scope


@PROPERTY
@given(names=distinct_keys)
@example(names=["inv", "INV"])
@example(names=["é", "e"])
@example(names=["😀", "🙂"])
def test_distinct_names_are_distinct_sequences(engine, sequencing, sessions, names) -> None:
    reset(engine, sequencing)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        seqs.define(names[0], "FIRST-{COUNTER}")
        for other in names[1:]:
            # only the first name is defined: no other one finds it
            with pytest.raises(SequenceNotFoundError):
                seqs.generate(other)
        for i, other in enumerate(names[1:], start=1):
            seqs.define(other, f"N{i}-{{COUNTER}}")  # no DuplicateSequenceError
        with pytest.raises(DuplicateSequenceError):
            seqs.define(names[0], "AGAIN-{COUNTER}")
        drawn = [seqs.generate(name) for name in names]
    assert drawn == ["FIRST-1", *(f"N{i}-1" for i in range(1, len(names)))]


def test_periods_are_distinct_counters(tx, sequencing) -> None:
    """Monthly and daily periods are distinct keys of one sequence's counters."""
    with tx() as seqs:
        seqs.define("m", "M-{YEAR}{MONTH}-{COUNTER}", reset_period="monthly")
        got = [seqs.generate("m", date=date(2026, month, 1)) for month in (1, 2, 1)]
    assert got == ["M-202601-1", "M-202602-1", "M-202601-2"]


def test_reservation_ids_match_exactly(tx, sequencing) -> None:
    with tx() as seqs:
        seqs.define("r", "R-{COUNTER}")
        reservation = seqs.reserve("r", 1)
    rid = reservation.id
    flipped = next(i for i, ch in enumerate(rid) if ch.isalpha())
    for variant in (rid.upper(), rid[:flipped] + rid[flipped].upper() + rid[flipped + 1 :]):
        assert variant != rid
        with tx() as seqs, pytest.raises(ReservationError, match="unknown"):
            seqs.finalize(variant)
    with tx() as seqs, pytest.raises(SequencingError):
        seqs.finalize(f"{rid} ")  # refused, one way or another
    with tx() as seqs:
        assert seqs.finalize(rid) == ["R-1"]


def test_trailing_blanks_are_part_of_the_key(engine, tx, sequencing) -> None:
    """Under a PAD SPACE collation (``utf8mb4_bin`` too) ``'acme' = 'acme '``: the
    library never makes such keys, but a lookup must not find one by the other."""
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")
        seqs.generate("inv", scope="acme", date=date(2026, 5, 1))
    s, c, a = sequencing.tables.sequences, sequencing.tables.counters, sequencing.tables.audits
    probes = [
        sa.select(sa.func.count()).where(s.c.name == "inv "),
        sa.select(sa.func.count()).where(c.c.scope == "acme "),
        sa.select(sa.func.count()).where(a.c.scope == "acme "),
        sa.select(sa.func.count()).where(a.c.number == "INV-1 "),
    ]
    with engine.connect() as conn:
        assert [conn.execute(probe).scalar() for probe in probes] == [0, 0, 0, 0]
        # and the rows are there under their own keys
        assert conn.execute(sa.select(sa.func.count()).where(c.c.scope == "acme")).scalar() == 1


def test_a_latin1_table_default_does_not_decide_how_keys_compare(engine, backend) -> None:
    """The key columns spell out utf8mb4 and their collation: tables created with
    another default character set still keep emoji and accented keys apart."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("only MySQL and MariaDB have per-table character sets")

    class LatinBase(DeclarativeBase):
        pass

    latin = Sequencing(LatinBase, table_prefix="latin1_")
    for table in latin.tables.all():
        # the mariadb dialect (mariadb:// URLs) reads its own prefix
        table.kwargs["mysql_charset"] = table.kwargs["mariadb_charset"] = "latin1"
    latin.drop_all(engine)
    latin.create_all(engine)
    try:
        with engine.connect() as conn:
            ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE {latin.tables.counters.name}")
            assert "DEFAULT CHARSET=latin1" in ddl.one()[1]
        scopes = ["acme", "ACME", "é", "e", "😀", "😁"]
        with Session(engine) as session, session.begin():
            seqs = latin.manager(session)
            seqs.define("inv", "INV-{COUNTER}")
            assert [seqs.generate("inv", scope=s) for s in scopes] == ["INV-1"] * len(scopes)
            assert [seqs.generate("inv", scope=s) for s in scopes] == ["INV-2"] * len(scopes)
    finally:
        latin.drop_all(engine)


@pytest.mark.parametrize(
    ("dialect_name", "mariadb", "version", "expected"),
    [
        ("mysql", True, (10, 11, 9), "utf8mb4_nopad_bin"),  # MariaDB through mysql://
        ("mariadb", True, (10, 6, 0), "utf8mb4_nopad_bin"),
        ("mariadb", False, None, "utf8mb4_nopad_bin"),  # offline, mariadb:// URL
        ("mysql", False, (8, 4, 3), "utf8mb4_0900_bin"),
        ("mysql", False, (8, 0, 17), "utf8mb4_0900_bin"),
        ("mysql", False, (8, 0, 16), "utf8mb4_bin"),  # no NO PAD binary collation yet
        ("mysql", False, (5, 7, 44), "utf8mb4_bin"),
        ("mysql", False, None, "utf8mb4_0900_bin"),  # offline, mysql:// URL
    ],
)
def test_exact_collation_per_server(dialect_name, mariadb, version, expected) -> None:
    from sqlalchemy.dialects import mysql

    dialect = mysql.dialect()
    dialect.name = dialect_name
    dialect.is_mariadb = mariadb
    dialect.server_version_info = version
    assert exact_collation(dialect) == expected
    ddl = KeyString(191).compile(dialect=dialect)
    assert ddl == f"VARCHAR(191) CHARACTER SET utf8mb4 COLLATE {expected}"


def test_key_string_is_a_plain_varchar_elsewhere() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    assert KeyString(16).compile(dialect=postgresql.dialect()) == "VARCHAR(16)"
    assert KeyString(16).compile(dialect=sqlite.dialect()) == "VARCHAR(16)"
