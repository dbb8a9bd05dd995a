"""The HTML report: one self-contained page (inline CSS and SVG, no script)."""

from __future__ import annotations

import html
import io
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import IO
from typing import Any

from .. import ALL_SCOPES
from .. import SequenceDefinition
from .. import __version__
from .reader import ReportSummary
from .reader import SequenceFigures
from .reader import label
from .reader import override_detail
from .reader import text

__all__ = ["HtmlPage"]


def _ledger(s: SequenceFigures, count: int) -> str:
    return str(count) if s.definition.audit_numbers else "off"


def _owner(scope: str | None) -> str:
    return f"(scope {scope})" if scope else "(global definition)"


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2430}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{margin:2.2rem 0 .4rem;font-size:1.3rem}
h3{font-size:1rem;margin:1.2rem 0 .3rem}.meta{color:#566}
table{border-collapse:collapse;margin:.3rem 0 1rem;min-width:40%}
th,td{border:1px solid #ccd3db;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef2f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.overdue td,tr.gap.skipped td{background:#fff4e0}.none{color:#789;font-style:italic}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;margin:.3rem 0}
dt{color:#566}dd{margin:0;word-break:break-all}.locked{color:#b00020;font-weight:600}
svg{background:#fbfcfd;border:1px solid #ccd3db}svg .bar{fill:#3a6ea5}
td{white-space:nowrap}svg text{font:11px system-ui,sans-serif;fill:#345}
"""


class HtmlPage:
    def __init__(self, stream: IO[str]) -> None:
        self.w = stream.write
        self.rows = 0

    def start(self, title: str, scope: Any) -> None:
        made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        scope_text = "every scope" if scope is ALL_SCOPES else f"scope {label(scope)}"
        self.w(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>\n"
            f'<h1>{_esc(title)}</h1><p class="meta">{_esc(scope_text)}; made {made} by '
            f"sa_sequencing {_esc(__version__)}; times in UTC</p>\n"
        )

    def sequence(self, s: SequenceFigures) -> None:
        d = s.definition
        self.w(
            f'<section class="sequence" data-name="{_esc(d.name)}" '
            f'data-scope="{_esc(d.scope)}">\n<h2>{_esc(d.name)} '
            f"<small>{_esc(_owner(d.scope))}</small></h2>\n<dl>"
        )
        facts = [
            ("pattern", d.pattern),
            ("reset", d.reset_period.value),
            ("gap policy", d.gap_policy.value),
            ("step / start", f"{d.step} / {d.start}"),
            ("locked", d.is_locked),
            ("metadata", d.metadata),
        ]
        for key, value in facts:
            css = ' class="locked"' if key == "locked" and value else ""
            self.w(f"<dt>{_esc(key)}</dt><dd{css}>{_esc(value)}</dd>")
        self.w("</dl>\n<h3>numbers issued per day</h3>\n")
        self.w(_chart(s.days) if s.days else '<p class="none">no numbers in the ledger</p>\n')
        self.section(
            "issued",
            (
                "scope",
                "period",
                "cycle",
                "first value",
                "last value",
                "values drawn",
                "in ledger",
                "first number",
                "last number",
                "last issued at",
            ),
        )
        for c in s.counters.values():
            self.w(
                f'<tr class="counter" data-scope="{_esc(c.scope)}" '
                f'data-period="{_esc(c.period)}" data-count="{c.count}" '
                f'data-ledger="{c.ledger_count}" '
                f'data-first="{_esc(c.first_number)}" data-last="{_esc(c.last_number)}">'
                f"<td>{_esc(label(c.scope))}</td><td>{_esc(c.period or '-')}</td>"
                f'<td class="n">{c.cycle}</td><td class="n">{_esc(c.first_value)}</td>'
                f'<td class="n">{_esc(c.last_value)}</td><td class="n">{c.count}</td>'
                f'<td class="n">{_ledger(s, c.ledger_count)}</td>'
                f"<td>{_esc(c.first_number)}</td><td>{_esc(c.last_number)}</td>"
                f"<td>{_esc(c.last_at)}</td></tr>\n"
            )
            self.rows += 1
        self.end_section()

    def section(self, title: str, headers: tuple[str, ...]) -> None:
        self.rows = 0
        slug = title.replace(" ", "-")
        self.w(f'<h3>{_esc(title)}</h3>\n<table class="{slug}"><thead><tr>')
        self.w("".join(f"<th>{_esc(h)}</th>" for h in headers) + "</tr></thead><tbody>\n")

    def end_section(self) -> None:
        if not self.rows:
            self.w('<tr><td class="none" colspan="9">none</td></tr>\n')
        self.w("</tbody></table>\n")

    def gap(self, definition: SequenceDefinition, g: Any) -> None:
        self.rows += 1
        self.w(
            f'<tr class="gap {_esc(g.status)}" data-number="{_esc(g.number)}" '
            f'data-reason="{_esc(g.reason)}" data-status="{_esc(g.status)}" '
            f'data-actor="{_esc(g.performed_by)}" data-scope="{_esc(g.scope)}">'
            f"<td>{_esc(label(g.scope))}</td><td>{_esc(g.period or '-')}</td>"
            f'<td>{_esc(g.number)}</td><td class="n">{g.value}</td><td>{_esc(g.reason)}</td>'
            f"<td>{_esc(g.status)}</td><td>{_esc(g.performed_by)}</td>"
            f"<td>{_esc(g.created_at)}</td><td>{_esc(g.filled_number)}</td></tr>\n"
        )

    def reservation(self, definition: SequenceDefinition, r: Any) -> None:
        self.rows += 1
        overdue = r.expires_at <= datetime.now(timezone.utc)
        self.w(
            f'<tr class="reservation{" overdue" if overdue else ""}" '
            f'data-id="{_esc(r.reservation_id)}" data-number="{_esc(r.number)}" '
            f'data-scope="{_esc(r.scope)}">'
            f"<td>{_esc(label(r.scope))}</td><td>{_esc(r.period or '-')}</td>"
            f"<td>{_esc(r.number)}</td><td>{_esc(r.reservation_id)}</td>"
            f"<td>{_esc(r.performed_by)}</td><td>{_esc(r.created_at)}</td>"
            f"<td>{_esc(r.expires_at)}{' (overdue)' if overdue else ''}</td></tr>\n"
        )

    def events(self, s: SequenceFigures) -> None:
        self.section("overrides", ("scope", "period", "old -> new value", "actor", "at"))
        for row in s.overrides:
            self.rows += 1
            period, detail = override_detail(row)
            self.w(
                f'<tr class="override" data-scope="{_esc(row.scope)}">'
                f"<td>{_esc(label(row.scope))}</td><td>{_esc(period or '-')}</td>"
                f"<td>{_esc(detail)}</td><td>{_esc(row.performed_by)}</td>"
                f"<td>{_esc(row.created_at)}</td></tr>\n"
            )
        self.end_section()
        self.section("locks", ("event", "actor", "at"))
        for row in s.locks:
            self.rows += 1
            self.w(
                f'<tr class="lock" data-event="{_esc(row.event)}"><td>{_esc(row.event)}</td>'
                f"<td>{_esc(row.performed_by)}</td><td>{_esc(row.created_at)}</td></tr>\n"
            )
        self.end_section()
        self.w("</section>\n")

    def finish(self, summary: ReportSummary) -> None:
        if not summary.sequences:
            self.w('<p class="none">no sequences defined</p>\n')
        self.w("</body></html>\n")


def _chart(days: dict[date, int], most: int = 670, height: int = 180) -> str:
    """An SVG bar chart of ``days``: one slot per day from the first to the last (days
    without numbers stay empty), at most ``most`` pixels of bars and 48 per day."""
    first, last = min(days), max(days)
    span = (last - first).days + 1
    top = max(days.values())
    left, bottom, plot_h = 40, 24, height - 24 - 14
    bar = min(most / span, 48.0)
    # Wide enough for the bars and for the two date labels under them.
    width = left + max(bar * span, 170.0) + 10
    axis = height - bottom
    out = io.StringIO()
    out.write(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width:.0f}" '
        f'height="{height}" viewBox="0 0 {width:.0f} {height}" role="img" '
        f'aria-label="numbers issued per day">\n'
        f'<line x1="{left}" y1="{axis}" x2="{width - 10:.0f}" y2="{axis}" stroke="#789"/>\n'
        f'<text x="{left - 4}" y="18" text-anchor="end">{top}</text>'
        f'<text x="{left - 4}" y="{axis}" text-anchor="end">0</text>\n'
    )
    for i in range(span):
        day = first + timedelta(days=i)
        count = days.get(day, 0)
        if not count:
            continue
        h = count / top * plot_h
        out.write(
            f'<rect class="bar" data-day="{day.isoformat()}" data-count="{count}" '
            f'x="{left + i * bar:.2f}" y="{axis - h:.2f}" '
            f'width="{max(bar - 1, 0.8):.2f}" height="{h:.2f}">'
            f"<title>{day.isoformat()}: {count}</title></rect>\n"
        )
    out.write(
        f'<text x="{left}" y="{height - 6}">{first.isoformat()}</text>'
        f'<text x="{width - 10:.0f}" y="{height - 6}" text-anchor="end">{last.isoformat()}'
        "</text>\n</svg>\n"
    )
    return out.getvalue()
