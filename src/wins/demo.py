"""Demo data: one branch, three services (A/B/C), four counters and an admin whose password is printed once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.branches.models import Branch
from wins.branches.service import create_branch
from wins.config import Environment, Settings
from wins.counters.service import create_counter
from wins.services.service import create_service
from wins.staff.models import Role, StaffUser
from wins.staff.security import generate_password
from wins.staff.service import create_user


@dataclass
class DemoResult:
    created: bool
    admin_username: str
    admin_password: str | None


PRODUCTION_REFUSAL = (
    "WINS_ENV=production: demo data and a generated admin password are never created in production. "
    "Set the site up with `wins setup` (it asks for the branch, its time zone and the first admin account; "
    "`wins setup --help` for the non-interactive form), then add services, counters and devices in the admin "
    "pages (or `wins devices create`)."
)


def demo_allowed(settings: Settings) -> bool:
    """Demo data (with an admin whose password is printed) is for trying WINS out, never for production."""
    return settings.env != Environment.production


def seed_demo(session: Session, *, admin_password: str | None = None) -> DemoResult:
    """Create the demo branch if the database has no branch yet. Safe to run twice."""
    if session.scalar(select(Branch.id).limit(1)) is not None:
        return DemoResult(False, "admin", None)
    create_branch(session, name="WINS Demo Branch", timezone="Europe/Paris")
    general = create_service(
        session, values={"name": "General enquiries", "prefix": "A", "colour": "#1f6feb", "sort_order": 1}, actor=None
    )
    payments = create_service(
        session, values={"name": "Payments", "prefix": "B", "colour": "#2da44e", "sort_order": 2}, actor=None
    )
    documents = create_service(
        session, values={"name": "Documents", "prefix": "C", "colour": "#bf3989", "sort_order": 3}, actor=None
    )
    create_counter(session, name="1", service_ids=[general.id, payments.id], actor=None)
    create_counter(session, name="2", service_ids=[general.id, documents.id], actor=None)
    create_counter(session, name="3", service_ids=[payments.id, general.id], actor=None)
    create_counter(session, name="4", service_ids=[documents.id, general.id, payments.id], actor=None)
    password = None
    if session.scalar(select(StaffUser).where(StaffUser.username == "admin")) is None:
        password = admin_password or generate_password()
        create_user(
            session, username="admin", password=password, role=Role.admin, full_name="Administrator", actor=None
        )
    return DemoResult(True, "admin", password)
