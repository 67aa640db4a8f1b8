"""Where an issue's time goes on PostgreSQL, without HTTP: statements (round trips) per issue and the time of
the issuing transaction, measured in-process, one thread, on a fresh database.

    .venv/bin/python bench/issue_round_trips.py                 # this checkout
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/issue_round_trips.py   # another version

Counts every statement the driver sends (SQLAlchemy's before_cursor_execute) plus the transaction's BEGIN and
COMMIT, for an issue with an Idempotency-Key (what kiosks send) and one without. Unlike throughput on a shared
2-core box, these numbers hardly depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database, machine, seed, settings_for, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=500)
    args = parser.parse_args()

    from sqlalchemy import event, select

    import wins
    from wins.auth import Principal
    from wins.db import Database
    from wins.devices.models import Device
    from wins.tickets import issuing

    print(f"# issuing transaction on PostgreSQL, in-process — {machine()}")
    print(f"# code: {Path(wins.__file__).resolve().parent}")
    rows = []
    with database("postgres") as url:
        data = seed(url, counters=1)
        db = Database(settings_for(url))
        try:
            with db.session(write=False) as session:
                kiosk = session.scalars(select(Device).where(Device.kind == "kiosk")).first()
                assert kiosk is not None
                session.expunge(kiosk)
            actor = Principal(device=kiosk)
            statements: list[str] = []

            @event.listens_for(db.write_engine, "before_cursor_execute")
            def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
                statements.append(statement)

            service_id = next(iter(data.services.values()))
            for keyed in (True, False):
                times: list[float] = []
                counts: list[int] = []
                for _ in range(args.tickets):
                    statements.clear()
                    key = uuid.uuid4().hex if keyed else None
                    start = time.perf_counter()
                    with db.session() as session:
                        issuing.issue(session, service_id=service_id, actor=actor, idempotency_key=key)
                    times.append((time.perf_counter() - start) * 1000)
                    counts.append(len(statements) + 2)  # + BEGIN and COMMIT
                times.sort()
                rows.append(
                    [
                        "yes" if keyed else "no",
                        statistics.median(counts),
                        f"{statistics.median(times):.2f}",
                        f"{times[int(len(times) * 0.99) - 1]:.2f}",
                    ]
                )
                print("  statements:", " | ".join(s.split()[0] + " " + s.split()[1][:24] for s in statements))
        finally:
            db.dispose()
    print(table(["Idempotency-Key", "round trips per issue", "ms per issue (median)", "p99 ms"], rows))


if __name__ == "__main__":
    main()
