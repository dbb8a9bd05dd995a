"""Per-series counters: ``define(..., counter_by=("DEPARTMENT",))`` gives each value of
a context variable its own counter, gap registry and ledger story, on every database.

Each department counts 1..N under concurrent transactions (threads, some rolled back);
voids, gaps, ``fill_gaps``, reservations, previews, metrics and overrides stay within
their series; ``validate``/``parse``/``void`` read the series back from the number; the
flush hook draws mixed departments in one flush, and two flushes in opposite
department orders never deadlock; a bad ``counter_by`` is refused with a clear message
and changes nothing; the command line defines and shows per-series counters.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from schemas import empty_tables
from schemas import fresh_schema
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker
from threads import Cancelled
from threads import commit_in_threads

from sa_sequencing import ArgumentTypeError
from sa_sequencing import ConfigurationError
from sa_sequencing import DuplicateSequenceError
from sa_sequencing import InvalidCounterValueError
from sa_sequencing import NumberRequest
from sa_sequencing import PatternError
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing
from sa_sequencing import SequencingError
from sa_sequencing import split_counter_key
from sa_sequencing.cli import main

DAY = date(2026, 3, 10)
PATTERN = "INV-{YEAR}-{DEPARTMENT}-{COUNTER:5}"


def define(seqs, name="inv", pattern=PATTERN, **options):
    options.setdefault("reset_period", "yearly")
    options.setdefault("counter_by", ("DEPARTMENT",))
    return seqs.define(name, pattern, **options)


def dept(name: str) -> dict[str, str]:
    return {"DEPARTMENT": name}


def counters(seqs, name="inv") -> dict[str, int]:
    definition = seqs.get(name)
    return {c.period: c.value for c in seqs.repositories.counters.for_sequence(definition)}


def values_by_department(numbers: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for number in numbers:
        _, _, department, value = number.split("-")
        found.setdefault(department, []).append(int(value))
    return {d: sorted(v) for d, v in found.items()}


# -- counting ------------------------------------------------------------------------------


def test_each_department_counts_on_its_own(tx):
    with tx() as seqs:
        definition = define(seqs)
        assert definition.counter_by == ("DEPARTMENT",)
        drawn = [
            seqs.generate("inv", context=dept(d), date=DAY)
            for d in ("SALES", "HR", "SALES", "HR", "SALES")
        ]
        drawn += seqs.generate_many("inv", 2, context={"department": "IT"}, date=DAY)
    assert drawn == [
        "INV-2026-SALES-00001",
        "INV-2026-HR-00001",
        "INV-2026-SALES-00002",
        "INV-2026-HR-00002",
        "INV-2026-SALES-00003",
        "INV-2026-IT-00001",
        "INV-2026-IT-00002",
    ]
    with tx() as seqs:
        assert counters(seqs) == {
            "2026|DEPARTMENT=HR": 2,
            "2026|DEPARTMENT=IT": 2,
            "2026|DEPARTMENT=SALES": 3,
        }
        # the ledger's story of each number names its series
        periods = {
            e.number: e.data["period"]
            for e in seqs.audit_log("inv", limit=None)
            if e.event == "number_generated"
        }
        # a new year restarts every series
        assert seqs.generate("inv", context=dept("HR"), date=date(2027, 1, 2)) == (
            "INV-2027-HR-00001"
        )
    assert periods["INV-2026-HR-00002"] == "2026|DEPARTMENT=HR"
    assert split_counter_key("2026|DEPARTMENT=HR") == ("2026", {"DEPARTMENT": "HR"})
    assert split_counter_key("2026") == ("2026", {})


def test_a_series_is_the_value_as_the_number_shows_it(tx):
    """``7`` and ``007`` render alike under ``{DEPT:3}``: one counter, no repeated
    number; ``a`` and ``A`` render differently: two counters."""
    with tx() as seqs:
        seqs.define("r", "R-{DEPT:3}-{COUNTER}", counter_by=("dept",))
        assert seqs.generate("r", context={"DEPT": 7}) == "R-007-1"
        assert seqs.generate("r", context={"DEPT": "007"}) == "R-007-2"
        assert seqs.generate("r", context={"DEPT": "a"}) == "R-00a-1"
        assert seqs.generate("r", context={"DEPT": "A"}) == "R-00A-1"
        assert counters(seqs, "r") == {"|DEPT=007": 2, "|DEPT=00a": 1, "|DEPT=00A": 1}


def test_variables_outside_counter_by_share_the_counter(tx):
    with tx() as seqs:
        seqs.define(
            "t",
            "T-{REGION}-{DEPARTMENT}-{KIND}-{COUNTER}",
            counter_by=("REGION", "DEPARTMENT"),
        )
        numbers = [
            seqs.generate("t", context={"REGION": r, "DEPARTMENT": d, "KIND": k})
            for r, d, k in [("EU", "HR", "A"), ("EU", "HR", "B"), ("US", "HR", "A")]
        ]
        assert numbers == ["T-EU-HR-A-1", "T-EU-HR-B-2", "T-US-HR-A-1"]
        assert counters(seqs, "t") == {
            "|REGION=EU|DEPARTMENT=HR": 2,
            "|REGION=US|DEPARTMENT=HR": 1,
        }


def test_departments_count_one_to_n_under_concurrency(tx, sessions, sequencing):
    """8 threads, 15 transactions each, two departments, a fifth rolled back: each
    department's committed numbers are 1..N without duplicate or hole."""
    with tx() as seqs:
        define(seqs)

    def draw(thread: int, round_: int, session: Session) -> list[str]:
        rng = random.Random(thread * 1000 + round_)
        seqs = sequencing.manager(session)
        department = rng.choice(("SALES", "HR"))
        count = rng.choice((1, 1, 2))
        numbers = seqs.generate_many("inv", count, context=dept(department), date=DAY)
        if rng.random() < 0.2:
            raise Cancelled
        return numbers

    results = commit_in_threads(8, 15, sessions, draw, attempts=8)
    committed = [n for numbers in results for n in numbers]
    by_department = values_by_department(committed)
    assert set(by_department) == {"SALES", "HR"}
    for values in by_department.values():
        assert values == list(range(1, len(values) + 1)), "a duplicate or a hole"
    with tx() as seqs:
        ledger = [
            e.number for e in seqs.audit_log("inv", limit=None) if e.event == "number_generated"
        ]
        assert counters(seqs) == {f"2026|DEPARTMENT={d}": len(v) for d, v in by_department.items()}
    assert sorted(ledger) == sorted(committed)


# -- the lifecycle, per series -----------------------------------------------------------------


def test_void_and_gaps_stay_in_their_series(tx):
    with tx() as seqs:
        define(seqs, gap_policy="report_gaps_only")
        for d in ("SALES", "SALES", "SALES", "HR", "HR"):
            seqs.generate("inv", context=dept(d), date=DAY)
        seqs.void("inv", "INV-2026-SALES-00002", reason="cancelled")
        seqs.void("inv", "INV-2026-HR-00001", reason="cancelled")
        # never issued in its series (HR is at 2; IT has no counter at all)
        for number in ("INV-2026-HR-00003", "INV-2026-IT-00001"):
            with pytest.raises(InvalidCounterValueError, match=r"never issued|not issued|no "):
                seqs.void("inv", number)
        gaps = {(g.period, g.value, g.number) for g in seqs.gaps("inv")}
        report = seqs.gap_report("inv")
        voids = [e.data for e in seqs.audit_log("inv", limit=None) if e.event == "number_voided"]
    assert gaps == {
        ("2026|DEPARTMENT=SALES", 2, "INV-2026-SALES-00002"),
        ("2026|DEPARTMENT=HR", 1, "INV-2026-HR-00001"),
    }
    assert sorted(report) == ["INV-2026-HR-00001", "INV-2026-SALES-00002"]
    assert sorted(v["period"] for v in voids) == ["2026|DEPARTMENT=HR", "2026|DEPARTMENT=SALES"]


def test_fill_gaps_serves_a_gap_only_to_its_series(tx):
    with tx() as seqs:
        define(seqs, gap_policy="fill_gaps")
        seqs.generate_many("inv", 3, context=dept("SALES"), date=DAY)
        seqs.void("inv", "INV-2026-SALES-00002")
        assert seqs.generate("inv", context=dept("HR"), date=DAY) == "INV-2026-HR-00001"
        assert seqs.preview("inv", context=dept("SALES"), date=DAY) == "INV-2026-SALES-00002"
        assert seqs.generate("inv", context=dept("SALES"), date=DAY) == "INV-2026-SALES-00002"
        assert seqs.generate("inv", context=dept("SALES"), date=DAY) == "INV-2026-SALES-00004"


def test_reservations_are_per_series(tx):
    with tx() as seqs:
        define(seqs, gap_policy="report_gaps_only")
        seqs.generate("inv", context=dept("SALES"), date=DAY)
        held = seqs.reserve("inv", 2, context=dept("HR"), date=DAY)
        assert list(held.numbers) == ["INV-2026-HR-00001", "INV-2026-HR-00002"]
        assert seqs.generate("inv", context=dept("HR"), date=DAY) == "INV-2026-HR-00003"
        seqs.release(held.id, ["INV-2026-HR-00002"])
        seqs.finalize(held.id, ["INV-2026-HR-00001"])
        assert [(g.period, g.number) for g in seqs.gaps("inv")] == [
            ("2026|DEPARTMENT=HR", "INV-2026-HR-00002")
        ]


def test_preview_is_per_series_and_changes_nothing(tx, snapshot):
    with tx() as seqs:
        define(seqs)
        seqs.generate_many("inv", 4, context=dept("SALES"), date=DAY)
    before = snapshot()
    with tx() as seqs:
        assert seqs.preview("inv", context=dept("SALES"), date=DAY) == "INV-2026-SALES-00005"
        assert seqs.preview("inv", context=dept("HR"), date=DAY) == "INV-2026-HR-00001"
        with pytest.raises(PatternError, match=r"\{DEPARTMENT\} missing"):
            seqs.preview("inv", date=DAY)
        with pytest.raises(PatternError, match=r"\{DEPARTMENT\} missing"):
            seqs.generate("inv", date=DAY)
    assert snapshot() == before


def test_validate_and_parse_read_the_series_back(tx):
    with tx() as seqs:
        define(seqs)
        number = seqs.generate("inv", context=dept("HR"), date=DAY)
        assert seqs.validate("inv", number)
        assert seqs.parse("inv", number) == {"YEAR": 2026, "DEPARTMENT": "HR", "COUNTER": 1}
        assert seqs.parse("inv", "INV-2026-SALES-00042")["DEPARTMENT"] == "SALES"
        assert not seqs.validate("inv", "INV-2026-00042")


def test_metrics_and_override_take_the_series_from_the_context(tx):
    with tx() as seqs:
        define(seqs, gap_policy="report_gaps_only")
        seqs.generate_many("inv", 3, context=dept("SALES"), date=DAY)
        seqs.generate("inv", context=dept("HR"), date=DAY)
        sales = seqs.metrics("inv", context=dept("SALES"), date=DAY)
        hr = seqs.metrics("inv", context=dept("HR"), date=DAY)
        assert (sales.period, sales.current_value) == ("2026|DEPARTMENT=SALES", 3)
        assert (hr.period, hr.current_value) == ("2026|DEPARTMENT=HR", 1)
        with pytest.raises(PatternError, match=r"\{DEPARTMENT\} missing"):
            seqs.metrics("inv", date=DAY)

        seqs.override("inv", 10, context=dept("HR"), date=DAY)
        assert seqs.generate("inv", context=dept("HR"), date=DAY) == "INV-2026-HR-00011"
        assert seqs.generate("inv", context=dept("SALES"), date=DAY) == "INV-2026-SALES-00004"
        # the values the override passed are gaps of HR, shown with the series
        skipped = [(g.period, g.number) for g in seqs.gaps("inv")]
        assert skipped == [("2026|DEPARTMENT=HR", f"INV-2026-HR-{v:05d}") for v in range(2, 11)]
        with pytest.raises(PatternError, match=r"\{DEPARTMENT\} missing"):
            seqs.override("inv", 20, date=DAY)


def test_generate_batch_draws_several_series_at_once(tx):
    with tx() as seqs:
        define(seqs)
        got = seqs.generate_batch(
            [
                NumberRequest("inv", 2, context=dept("SALES"), date=DAY),
                NumberRequest("inv", 1, context=dept("HR"), date=DAY),
                NumberRequest("inv", 1, context=dept("SALES"), date=DAY),
            ]
        )
    assert got == [
        ["INV-2026-SALES-00001", "INV-2026-SALES-00002"],
        ["INV-2026-HR-00001"],
        ["INV-2026-SALES-00003"],
    ]


# -- the flush hook -----------------------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


FLUSH_SEQUENCING = Sequencing(_Base, table_prefix="cb_")


class Voucher(_Base):
    __tablename__ = "cb_vouchers"
    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(20))
    number: Mapped[str | None] = SequenceColumn(
        "voucher",
        context=lambda v: {"DEPARTMENT": v.department},
        date=lambda v: DAY,
        unique=True,
    )


@pytest.fixture(scope="module")
def _flush_schema(engine: sa.Engine) -> Iterator[None]:
    yield from fresh_schema(engine, _Base.metadata)


@pytest.fixture
def flush_sessions(engine: sa.Engine, _flush_schema: None) -> sessionmaker[Session]:
    empty_tables(engine, _Base.metadata.sorted_tables, FLUSH_SEQUENCING)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        FLUSH_SEQUENCING.manager(session).define(
            "voucher",
            "V-{YEAR}-{DEPARTMENT}-{COUNTER}",
            reset_period="yearly",
            counter_by=("DEPARTMENT",),
        )
    return factory


def test_one_flush_numbers_mixed_departments(flush_sessions):
    with flush_sessions() as session, session.begin():
        vouchers = [Voucher(department=d) for d in ("HR", "SALES", "HR", "IT", "SALES")]
        session.add_all(vouchers)
    assert [v.number for v in vouchers] == [
        "V-2026-HR-1",
        "V-2026-SALES-1",
        "V-2026-HR-2",
        "V-2026-IT-1",
        "V-2026-SALES-2",
    ]


def test_two_flushes_in_opposite_department_orders_never_deadlock(flush_sessions):
    """Each thread commits flushes of a SALES and an HR voucher, one thread SALES
    first, the other HR first: the counters are locked in (sequence, scope, period
    key) order, series included, so neither waits for the other in a cycle (a
    deadlock would surface as an error here: no retry is used)."""
    rounds = 60
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(order: tuple[str, str]) -> None:
        start.wait()
        try:
            for _ in range(rounds):
                with flush_sessions() as session, session.begin():
                    session.add_all(Voucher(department=d) for d in order)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(order,))
        for order in (("SALES", "HR"), ("HR", "SALES"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with flush_sessions() as session:
        numbers = list(session.scalars(sa.select(Voucher.number)))
    by_department = {
        d: sorted(int(n.rsplit("-", 1)[1]) for n in numbers if f"-{d}-" in n)
        for d in ("SALES", "HR")
    }
    assert by_department == {d: list(range(1, 2 * rounds + 1)) for d in ("SALES", "HR")}


def test_a_declared_counter_by_is_synced_and_compared(flush_sessions):
    """``declare(..., counter_by=...)`` stores it; the same declaration again is in
    sync (``department`` and ``DEPARTMENT`` are one name); another ``counter_by``
    is reported as drift."""
    sequencing = Sequencing(sa.MetaData(), table_prefix="cb_")
    sequencing.declare("declared", "D-{DEPARTMENT}-{COUNTER}", counter_by=("department",))
    with flush_sessions() as session, session.begin():
        first = sequencing.sync(session)
        seqs = sequencing.manager(session)
        assert seqs.get("declared").counter_by == ("DEPARTMENT",)
        assert seqs.generate("declared", context=dept("HR")) == "D-HR-1"
        assert seqs.generate("declared", context=dept("IT")) == "D-IT-1"
    again = Sequencing(sa.MetaData(), table_prefix="cb_")
    again.declare("declared", "D-{DEPARTMENT}-{COUNTER}", counter_by=("DEPARTMENT",))
    with flush_sessions() as session, session.begin():
        second = again.sync(session)
    other = Sequencing(sa.MetaData(), table_prefix="cb_")
    other.declare("declared", "D-{DEPARTMENT}-{COUNTER}")
    with flush_sessions() as session, session.begin():
        with pytest.raises(SequencingError, match="counter_by") as caught:
            other.sync(session)
    assert first.created and not first.drifted
    assert second.in_sync and second.unchanged
    assert "counter_by" in str(caught.value)


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counter_by", "error", "message"),
    [
        (
            ("REGION",),
            ConfigurationError,
            r"'REGION', which is not a context variable.*\{DEPARTMENT\}",
        ),
        (("YEAR",), ConfigurationError, r"'YEAR', which is not a context variable"),
        (("DEPARTMENT", "department"), ConfigurationError, r"\{DEPARTMENT\} twice"),
        ("DEPARTMENT", ArgumentTypeError, r"counter_by must be a tuple .* not str"),
        ((1,), ArgumentTypeError, r"counter_by holds a int"),
        (None, ArgumentTypeError, r"counter_by must be a tuple"),
    ],
)
def test_bad_counter_by_is_refused_and_changes_nothing(tx, snapshot, counter_by, error, message):
    before = snapshot()
    with tx() as seqs, pytest.raises(error, match=message) as caught:
        define(seqs, counter_by=counter_by)
    assert isinstance(caught.value, SequencingError)
    assert "sequence 'inv'" in str(caught.value)
    assert snapshot() == before


def test_names_too_long_for_the_key_are_refused(tx, snapshot):
    name = "V" * 60
    pattern = "-".join(f"{{{name}{i}}}" for i in range(3)) + "-{COUNTER}"
    before = snapshot()
    with tx() as seqs, pytest.raises(ConfigurationError, match="more than the 191"):
        seqs.define("x", pattern, counter_by=tuple(f"{name}{i}" for i in range(3)))
    assert snapshot() == before


def test_a_value_too_long_for_the_key_is_refused_before_any_counter_moves(tx, snapshot):
    with tx() as seqs:
        define(seqs, "long", "L-{DEPARTMENT}-{COUNTER}", reset_period="never")
        assert seqs.generate("long", context=dept("D" * 179)) == f"L-{'D' * 179}-1"
    before = snapshot()
    with tx() as seqs, pytest.raises(ConfigurationError, match=r"192 characters, more than"):
        seqs.generate("long", context=dept("D" * 180))
    with tx() as seqs, pytest.raises(ConfigurationError, match=r"more than the 191"):
        seqs.generate_batch([NumberRequest("long", context=dept("E" * 200))])
    assert snapshot() == before


def test_every_pattern_must_show_the_series(tx, snapshot):
    with tx() as seqs:
        define(seqs)
    before = snapshot()
    with tx() as seqs, pytest.raises(ConfigurationError, match="not a context variable"):
        seqs.define_version("inv", "INV-{YEAR}-{COUNTER:6}", effective_from=date(2027, 1, 1))
    with tx() as seqs, pytest.raises(ConfigurationError, match="not a context variable"):
        seqs.update("inv", pattern="INV-{YEAR}-{COUNTER:6}")
    assert snapshot() == before
    with tx() as seqs:
        seqs.define_version(
            "inv", "INV/{YEAR}/{DEPARTMENT}/{COUNTER:6}", effective_from=date(2027, 1, 1)
        )
        number = seqs.generate("inv", context=dept("HR"), date=date(2027, 5, 1))
        assert number == "INV/2027/HR/000001"
        seqs.void("inv", number)


def test_counter_by_set_later_is_checked_against_the_pattern_versions(tx, snapshot):
    with tx() as seqs:
        define(seqs, counter_by=())
        seqs.define_version("inv", "INV-{YEAR}-{COUNTER:6}", effective_from=date(2027, 1, 1))
    before = snapshot()
    with tx() as seqs, pytest.raises(ConfigurationError, match="pattern version from 2027-01-01"):
        seqs.update("inv", counter_by=("DEPARTMENT",))
    assert snapshot() == before


def test_counter_by_is_fixed_once_numbers_exist(tx, snapshot):
    with tx() as seqs:
        define(seqs, counter_by=())
        seqs.update("inv", counter_by=("DEPARTMENT",))  # nothing issued yet: allowed
        assert seqs.get("inv").counter_by == ("DEPARTMENT",)
        seqs.generate("inv", context=dept("HR"), date=DAY)
    before = snapshot()
    with tx() as seqs, pytest.raises(ConfigurationError, match="counter_by cannot change"):
        seqs.update("inv", counter_by=())
    assert snapshot() == before


def test_define_exist_ok_compares_counter_by(tx):
    with tx() as seqs:
        define(seqs)
        assert define(seqs, exist_ok=True).counter_by == ("DEPARTMENT",)
        assert define(seqs, counter_by=["department"], exist_ok=True).counter_by == ("DEPARTMENT",)
        with pytest.raises(DuplicateSequenceError, match="counter_by") as caught:
            define(seqs, counter_by=(), exist_ok=True)
    assert "counter_by" in caught.value.differences


# -- the command line ----------------------------------------------------------------------------


def test_cli_defines_and_shows_per_series_counters(url, tx, capsys):
    with tx():
        pass  # empty tables (the sequencing fixture)

    def cli(*args: str) -> str:
        code = main(["--url", url, *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    cli("define", "inv", PATTERN, "--reset-period", "yearly", "--counter-by", "DEPARTMENT")
    for department in ("SALES", "HR", "SALES"):
        cli("generate", "inv", "--context", f"DEPARTMENT={department}", "--date", "2026-03-10")
    shown = cli("show", "inv")
    assert re.search(r"SCOPE\s+PERIOD\s+SERIES\s+VALUE", shown), shown
    assert re.search(r"2026\s+DEPARTMENT=SALES\s+2\b", shown), shown
    assert re.search(r"2026\s+DEPARTMENT=HR\s+1\b", shown), shown
    data = json.loads(cli("show", "inv", "--json"))
    assert data["definition"]["counter_by"] == ["DEPARTMENT"]
    assert sorted((c["series"]["DEPARTMENT"], c["value"]) for c in data["counters"]) == [
        ("HR", 1),
        ("SALES", 2),
    ]
    metrics = json.loads(cli("metrics", "inv", "--context", "DEPARTMENT=HR", "--json"))
    assert metrics["metrics"]["period"].endswith("|DEPARTMENT=HR")
    moved = json.loads(
        cli("override", "inv", "7", "--context", "DEPARTMENT=HR", "--date", "2026-03-10", "--json")
    )
    assert moved["next_number"] == "INV-2026-HR-00008"
    code = main(["--url", url, "define", "bad", PATTERN, "--counter-by", "REGION"])
    _, err = capsys.readouterr()
    assert code != 0 and "REGION" in err and "Traceback" not in err
