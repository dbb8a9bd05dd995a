"""The auditor's report (``sa_sequencing.report.write_report``) on every database.

One story with hostile text everywhere a user can put text (a sequence name, a scope,
an actor, a void reason, metadata), numbers drawn over several days and two periods,
a void, reservations open, finalized and released, an override and a lock.  The HTML
page is parsed (``html.parser``) and rendered in headless Chromium, the CSV is parsed
(``csv``), and both must say exactly what the tables say, with no markup of the
user's text surviving as markup.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections import Counter
from datetime import date
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from sa_sequencing import SequenceNotFoundError
from sa_sequencing.report import CSV_COLUMNS
from sa_sequencing.report import write_report

HOSTILE = "<script>alert(\"x\")</script> & 'q'"
NAME = '<b>"po"</b>'
SCOPE = "<script>s</script>\"'&amp;"
ACTOR = "<img src=x onerror=alert(1)>"
REASON = '<i>"typo"</i>'
FORMULA = '=HYPERLINK("http://x","y")'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE = os.environ.get("SA_SEQUENCING_REQUIRE_SERVERS") == "1"
# The tags the report itself writes: anything else would be the user's text as markup.
OWN_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "p",
    "small",
    "section",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "svg",
    "line",
    "text",
    "rect",
}


@pytest.fixture
def story(tx, engine, sequencing):
    """The story above; returns the definitions' names."""
    last_year = date(date.today().year - 1, 6, 1)
    with tx() as seqs:
        seqs.define(
            "inv",
            "INV-{YEAR}-{COUNTER:4}",
            reset_period="yearly",
            gap_policy="report_gaps_only",
            metadata={"note": HOSTILE},
        )
        seqs.define(NAME, "PO-{COUNTER:3}", scope=SCOPE, gap_policy="fill_gaps")
    with tx() as seqs:
        seqs.generate_many("inv", 5, scope="acme", performed_by="clerk")
        seqs.generate_many("inv", 2, scope="acme", date=last_year, performed_by="clerk")
        seqs.generate_many("inv", 3, scope=SCOPE, performed_by=ACTOR)
        issued = seqs.generate_many(NAME, 2, scope=SCOPE, performed_by=ACTOR)
    with tx() as seqs:
        seqs.void(
            "inv",
            seqs.audit_log("inv", scope="acme", limit=None)[2].number,
            scope="acme",
            reason=REASON,
            performed_by=ACTOR,
        )
        held = seqs.reserve(NAME, 3, scope=SCOPE, performed_by=ACTOR)
        seqs.finalize(held.id, [held.numbers[0]])
        given_back = seqs.reserve("inv", 1, scope="acme")
        seqs.release(given_back.id, performed_by="clerk")
        seqs.override("inv", 12, scope="acme", performed_by="admin")
        seqs.lock(NAME, scope=SCOPE, performed_by=ACTOR)
        seqs.unlock(NAME, scope=SCOPE, performed_by=FORMULA)
    assert issued == ["PO-001", "PO-002"]
    # History: the definitions a month old, and their numbers spread over three days.
    t = sequencing.tables
    with engine.begin() as conn:
        for table, where in (
            (t.sequences, True),
            (t.audits, t.audits.c.event == "number_generated"),
        ):
            rows = conn.execute(sa.select(table.c.id, table.c.created_at).where(where)).all()
            for i, (row_id, at) in enumerate(sorted(rows)):
                back = (
                    timedelta(days=30)
                    if table is t.sequences
                    else timedelta(days=(0, 1, 3)[i % 3])
                )
                conn.execute(
                    sa.update(table).where(table.c.id == row_id).values(created_at=at - back)
                )
    return ["inv", NAME]


def _expected(engine, sequencing):
    """What the tables say, per sequence name: counters, gaps, open reservations,
    numbers per day, overrides and lock events."""
    t = sequencing.tables
    found = {}
    with engine.connect() as conn:
        for d in conn.execute(sa.select(t.sequences)):
            counters = {
                (c.scope, c.period): c.value - d.start + 1
                for c in conn.execute(
                    sa.select(t.counters).where(t.counters.c.sequence_id == d.id)
                )
            }
            ledger = list(
                conn.execute(
                    sa.select(t.audits)
                    .where(t.audits.c.sequence_name == d.name)
                    .order_by(t.audits.c.id)
                )
            )
            issued = [r for r in ledger if r.event == "number_generated"]
            first_last = {}
            for r in issued:
                key = (r.scope, (r.data or {}).get("period", ""))
                first_last.setdefault(key, [r.number, r.number])[1] = r.number
            found[d.name] = {
                "scope": d.scope,
                "counters": counters,
                "first_last": first_last,
                "gaps": sorted(
                    (g.scope, g.number, g.reason, g.status, g.performed_by or "")
                    for g in conn.execute(sa.select(t.gaps).where(t.gaps.c.sequence_id == d.id))
                ),
                "open": sorted(
                    (r.scope, r.number, r.reservation_id)
                    for r in conn.execute(
                        sa.select(t.reservations).where(
                            t.reservations.c.sequence_id == d.id,
                            t.reservations.c.status == "reserved",
                        )
                    )
                ),
                "days": dict(Counter(r.created_at.date().isoformat() for r in issued)),
                "overrides": sum(r.event == "counter_overridden" for r in ledger),
                "locks": [r.event for r in ledger if r.event.startswith("sequence_")],
            }
    return found


class _Page(HTMLParser):
    """What a report page shows, read back from its markup."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs
        a = dict(attrs)
        kind = (a.get("class") or "").split(" ")[0]
        if tag == "section":
            self.current = {
                "scope": a["data-scope"],
                "counters": {},
                "first_last": {},
                "gaps": [],
                "open": [],
                "days": {},
                "overrides": 0,
                "locks": [],
            }
            self.sections[a["data-name"]] = self.current
        elif self.current is None:
            return
        elif kind == "counter":
            key = (a["data-scope"], a["data-period"])
            self.current["counters"][key] = int(a["data-count"])
            self.current["first_last"][key] = [a["data-first"], a["data-last"]]
        elif kind == "gap":
            self.current["gaps"].append(
                (
                    a["data-scope"],
                    a["data-number"],
                    a["data-reason"],
                    a["data-status"],
                    a["data-actor"],
                )
            )
        elif kind == "reservation":
            self.current["open"].append((a["data-scope"], a["data-number"], a["data-id"]))
        elif kind == "bar":
            self.current["days"][a["data-day"]] = int(a["data-count"])
        elif kind == "override":
            self.current["overrides"] += 1
        elif kind == "lock":
            self.current["locks"].append(a["data-event"])

    def result(self) -> dict:
        for section in self.sections.values():
            section["gaps"].sort()
            section["open"].sort()
            section["scope"] = section["scope"] or None
        return self.sections


def _comparable(expected: dict) -> dict:
    for section in expected.values():
        section["scope"] = section["scope"] or None
        section["first_last"] = {
            k: v for k, v in section["first_last"].items() if k in section["counters"]
        }
    return expected


def _check_page(markup: str, expected: dict) -> None:
    page = _Page(markup)
    assert page.result() == expected
    assert page.tags <= OWN_TAGS, page.tags - OWN_TAGS
    # Self-contained: nothing is loaded from anywhere.
    assert not [name for name, _ in page.attributes if name in {"src", "href", "srcset"}]


def test_html_report_says_what_the_tables_say(story, tx, engine, sequencing, tmp_path):
    path = tmp_path / "report.html"
    with tx() as seqs:
        summary = write_report(seqs, path)
    markup = path.read_text(encoding="utf-8")
    expected = _comparable(_expected(engine, sequencing))
    _check_page(markup, expected)
    assert len(expected["inv"]["days"]) == 3  # the chart has three days of numbers
    assert expected["inv"]["overrides"] == 1
    assert expected[NAME]["locks"] == ["sequence_locked", "sequence_unlocked"]
    assert "{&quot;note&quot;: &quot;&lt;script&gt;alert(" in markup  # the metadata, as JSON
    assert (summary.sequences, summary.open_reservations) == (2, 2)
    assert summary.gaps == sum(len(s["gaps"]) for s in expected.values())
    assert summary.issued == sum(sum(s["days"].values()) for s in expected.values())


def test_csv_report_says_what_the_tables_say(story, tx, engine, sequencing):
    out = io.StringIO(newline="")
    with tx() as seqs:
        write_report(seqs, out, format="csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    expected = _comparable(_expected(engine, sequencing))
    found: dict[str, dict] = {}
    actors: list[str] = []
    for row in rows:
        s = found.setdefault(
            row["sequence"],
            {
                "scope": row["definition_scope"] or None,
                "counters": {},
                "first_last": {},
                "gaps": [],
                "open": [],
                "days": {},
                "overrides": 0,
                "locks": [],
            },
        )
        record = row["record"]
        if record == "counter":
            key = (row["scope"], row["period"])
            s["counters"][key] = int(row["count"])
            s["first_last"][key] = [row["first_number"], row["last_number"]]
        elif record == "gap":
            s["gaps"].append(
                (row["scope"], row["number"], row["reason"], row["status"], row["actor"])
            )
        elif record == "reservation":
            s["open"].append((row["scope"], row["number"], row["detail"].split(" until ")[0]))
        elif record == "day":
            s["days"][row["at"]] = int(row["count"])
        elif record == "override":
            s["overrides"] += 1
        elif record == "lock":
            s["locks"].append(row["status"])
            actors.append(row["actor"])
    for s in found.values():
        s["gaps"].sort()
        s["open"].sort()
    assert found == expected
    # A formula from a user is text in a spreadsheet: quoted, and only that.
    assert actors == [ACTOR, "'" + FORMULA]


def test_report_of_one_sequence_and_one_scope(story, tx):
    out = io.StringIO()
    with tx() as seqs:
        write_report(seqs, out, name="inv", scope="acme", format="csv")
        with pytest.raises(SequenceNotFoundError):
            write_report(seqs, io.StringIO(), name="nope")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["sequence"] for r in rows} == {"inv"}
    assert {r["scope"] for r in rows if r["record"] in ("counter", "gap")} == {"acme"}
    assert len([r for r in rows if r["record"] == "counter"]) == 2  # this year and last
    with tx() as seqs:
        html_out = io.StringIO()
        write_report(seqs, html_out, scope=SCOPE)
    page = _Page(html_out.getvalue()).result()
    assert set(page) == {"inv", NAME}  # the global definition serves the scope too
    assert {scope for scope, _ in page["inv"]["counters"]} == {SCOPE}


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("SA_SEQUENCING_REQUIRE_SERVERS=1 but chromium is not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return CHROMIUM


def _browser(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            # the page is given as a file:// URL; the profile goes beside the page
            "--user-data-dir=" + str(Path(args[-1].removeprefix("file://")).parent / "profile"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_report_in_a_real_browser(story, tx, engine, sequencing, tmp_path, chromium):
    path = tmp_path / "report.html"
    with tx() as seqs:
        write_report(seqs, path)
    rendered = _browser(chromium, "--dump-dom", path.as_uri())
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    # The DOM after the browser parsed the page (and would have run any script).
    _check_page(rendered.stdout, _comparable(_expected(engine, sequencing)))
    assert "<script>alert" in rendered.stdout.replace("&lt;", "<").replace("&gt;", ">")

    shot = tmp_path / "report.png"
    taken = _browser(chromium, f"--screenshot={shot}", "--window-size=1100,1600", path.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(image) > 20_000  # a page of tables and a chart, not a blank one


class _Sink:
    """A text stream that keeps nothing (so that only the report's own memory counts)."""

    written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)


def test_the_report_streams_gaps_and_the_ledger(tmp_path):
    """Memory stays flat while the numbers and gaps grow fourfold: the ledger, gaps
    and reservations go from the database to the output without being collected."""
    import tracemalloc

    from sqlalchemy.orm import DeclarativeBase
    from sqlalchemy.orm import Session

    from sa_sequencing import Sequencing

    class Base(DeclarativeBase):
        pass

    sequencing = Sequencing(Base)
    peaks = {}
    for n in (1_000, 4_000):
        engine = sa.create_engine(f"sqlite:///{tmp_path / f'{n}.db'}")
        sequencing.create_all(engine)
        with Session(engine) as session, session.begin():
            seqs = sequencing.manager(session)
            seqs.define("inv", "INV-{COUNTER:9}", gap_policy="report_gaps_only")
            seqs.generate_many("inv", n)  # n ledger rows
            seqs.override("inv", 2 * n)  # n gaps
        for format in ("html", "csv"):
            sink = _Sink()
            with Session(engine) as session, session.begin():
                tracemalloc.start()
                try:
                    summary = write_report(sequencing.manager(session), sink, format=format)
                    peaks[n, format] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
            assert (summary.issued, summary.gaps) == (n, n)
            assert sink.written > n * 40  # every gap is in the output
        engine.dispose()
    for format in ("html", "csv"):
        assert peaks[4_000, format] < 1.5 * peaks[1_000, format], peaks
