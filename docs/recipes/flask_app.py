"""Flask-SQLAlchemy: a manager made once on ``db.session`` follows every request.

Run it (``DATABASE_URL`` defaults to a SQLite file)::

    pip install sa_sequencing Flask-SQLAlchemy
    DATABASE_URL=postgresql+psycopg://app@localhost/app flask --app flask_app run

    curl -X POST localhost:5000/orders -H 'content-type: application/json' \
         -d '{"tenant": "acme", "supplier": "Initech"}'
    {"id": 1, "number": "PO-202607-0001", "tenant": "acme"}
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask import abort
from flask import request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from sa_sequencing import GapPolicy
from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceBusyError
from sa_sequencing import Sequencing
from sa_sequencing.sqlite import begin_immediate


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
sequencing = Sequencing(Base)  # db.create_all() creates the sequencing tables too

# db.session is a scoped_session: this one manager works, at each call, in the
# session of the request being served, and never in another request's transaction.
seqs = sequencing.manager(db.session)


class PurchaseOrder(db.Model):
    __tablename__ = "purchase_orders"
    __table_args__ = (sa.UniqueConstraint("tenant", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(40))
    supplier: Mapped[str] = mapped_column(sa.String(100))
    number: Mapped[str] = mapped_column(sa.String(255))


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ.get(
        "DATABASE_URL", "sqlite:///app.db"
    )
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            begin_immediate(db.engine)  # writers queue for SQLite's one write lock
        db.create_all()
        seqs.define(  # at every start: exist_ok keeps what is stored
            "purchase_order",
            "PO-{YEAR}{MONTH}-{COUNTER:4}",
            reset_period=ResetPeriod.MONTHLY,
            gap_policy=GapPolicy.REPORT_GAPS_ONLY,
            exist_ok=True,
        )
        db.session.commit()

    @app.post("/orders")
    def create_order() -> tuple[dict[str, Any], int]:
        data = request.get_json()
        order = PurchaseOrder(tenant=data["tenant"], supplier=data["supplier"])
        # Draw late, just before the commit: the counter row stays locked until then.
        order.number = seqs.generate("purchase_order", scope=order.tenant)
        db.session.add(order)
        db.session.commit()
        return {"id": order.id, "tenant": order.tenant, "number": order.number}, 201

    @app.get("/orders/<int:order_id>")
    def read_order(order_id: int) -> dict[str, Any]:
        order = db.session.get(PurchaseOrder, order_id) or abort(404)
        return {"id": order.id, "tenant": order.tenant, "number": order.number}

    @app.errorhandler(SequenceBusyError)
    def busy(exc: SequenceBusyError) -> tuple[dict[str, Any], int, dict[str, str]]:
        # Flask-SQLAlchemy rolls the request's session back when the request ends.
        return {"error": str(exc)}, 503, {"Retry-After": "1"}

    return app
