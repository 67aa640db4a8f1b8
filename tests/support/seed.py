"""Test data factories, written through the real services (users get a pre-computed password hash)."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher

from wins.branches.service import create_branch
from wins.config import Settings
from wins.counters.service import create_counter
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device
from wins.services.service import create_service
from wins.staff.models import Role, StaffUser
from wins.staff.service import issue_token

PASSWORD = "correct-horse-battery"
_hash: list[str] = []


def _password_hash() -> str:
    """The seeded users' argon2id hash, made once per test process with the cheapest parameters. Sign-in runs
    the real code (wins.staff.security.verify_password reads the parameters from the hash), but each of the
    suite's many sign-ins costs ~1 ms instead of the production ~130 ms of CPU. Users made through the API or
    `wins users` get the production parameters, and tests/security/test_auth_hardening.py checks those."""
    if not _hash:
        _hash.append(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD))
    return _hash[0]


@dataclass
class Seeded:
    services: dict[str, int] = field(default_factory=dict)  # prefix -> id
    counters: dict[str, int] = field(default_factory=dict)  # name -> id
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    tokens: dict[str, str] = field(default_factory=dict)  # username or device name -> bearer token


def seed(settings: Settings, *, timezone: str = "Europe/Paris", counters: int = 4) -> Seeded:
    """A branch with services A, B, C; counters 1..n (1: A,B  2: A,C  3: B,A  4: C,A,B …); users
    admin/manager/staff/staff2/reception (password PASSWORD); a kiosk and a display device."""
    db = Database(settings)
    out = Seeded()
    with db.session() as session:
        create_branch(session, name="Test Branch", timezone=timezone)
        for prefix, name in (("A", "General"), ("B", "Payments"), ("C", "Documents")):
            out.services[prefix] = create_service(session, values={"name": name, "prefix": prefix}, actor=None).id
        a, b, c = out.services["A"], out.services["B"], out.services["C"]
        orders = [[a, b], [a, c], [b, a], [c, a, b]]
        for i in range(counters):
            out.counters[str(i + 1)] = create_counter(
                session, name=str(i + 1), service_ids=orders[i % 4], actor=None
            ).id
        for username, role in (
            ("admin", Role.admin),
            ("manager", Role.manager),
            ("staff", Role.staff),
            ("staff2", Role.staff),
            ("reception", Role.reception),
        ):
            user = StaffUser(username=username, password_hash=_password_hash(), role=role)
            session.add(user)
            session.flush()
            out.users[username] = user.id
            out.tokens[username] = issue_token(user, secret_key=settings.effective_secret_key)
        _, out.tokens["kiosk"] = create_device(session, name="kiosk", kind=DeviceKind.kiosk, actor=None)
        _, out.tokens["display"] = create_device(session, name="display", kind=DeviceKind.display, actor=None)
    db.dispose()
    return out
