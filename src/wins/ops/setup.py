"""First set-up of a site without demo data (`wins setup`, issue 13): the branch, its first admin account and,
optionally, services and counters, in ONE transaction, so a refused value leaves nothing half-made.

The command line (`wins.ops.cli.setup_command`) only gathers the answers; everything is checked here and by the
services that create each thing (the same rules as the API and the admin pages: prefixes, names, password length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from wins.audit.service import record
from wins.auth import Principal
from wins.branches.service import create_branch, has_branch, validate_timezone
from wins.counters.service import create_counter
from wins.errors import Conflict, ValidationFailed
from wins.services.service import create_service
from wins.staff.models import Role
from wins.staff.service import create_user

ALREADY_SET_UP = (
    "This site is already set up (it has a branch), so nothing was changed. Change the branch, services and "
    "counters in the admin pages (/admin); add accounts with `wins users create NAME --role admin "
    "--password-stdin`."
)
_PREFIX = re.compile(r"^[A-Z]{1,3}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$")


class AlreadySetUp(Conflict):
    code = "already_set_up"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    prefix: str


@dataclass(frozen=True)
class CounterSpec:
    name: str
    prefixes: tuple[str, ...]


@dataclass
class SetupPlan:
    branch: str
    timezone: str
    admin: str
    password: str
    rollover_hour: int = 0
    languages: list[str] = field(default_factory=lambda: ["en"])
    services: list[ServiceSpec] = field(default_factory=list)
    counters: list[CounterSpec] = field(default_factory=list)


@dataclass(frozen=True)
class SetupResult:
    branch_id: int
    admin_id: int
    services: list[str]
    counters: list[str]


def parse_service(text: str) -> ServiceSpec:
    """`Name:PREFIX`, e.g. `Prescriptions:P` (the name may itself contain a colon; the last one separates)."""
    name, sep, prefix = text.rpartition(":")
    if not sep or not name.strip() or not prefix.strip():
        raise ValidationFailed(f"--service {text!r}: write it as Name:PREFIX, e.g. 'Prescriptions:P'.")
    return ServiceSpec(name.strip(), prefix.strip().upper())


def parse_counter(text: str) -> CounterSpec:
    """`Name:PREFIX,PREFIX`: the counter and the services it calls, in the order it takes them."""
    name, sep, prefixes = text.rpartition(":")
    codes = tuple(code.strip().upper() for code in prefixes.split(",") if code.strip())
    if not sep or not name.strip() or not codes:
        raise ValidationFailed(f"--counter {text!r}: write it as Name:PREFIX,PREFIX, e.g. 'Desk 1:P,L'.")
    return CounterSpec(name.strip(), codes)


def parse_languages(values: list[str]) -> list[str]:
    """`--language en --language fr` or `--language en,fr`: codes like en, fr, pt-BR (the first is the default)."""
    codes = [code.strip() for value in values for code in value.replace(";", ",").split(",") if code.strip()]
    for code in codes:
        if not _LANGUAGE.match(code):
            raise ValidationFailed(f"--language {code!r}: use a language code like 'en', 'fr' or 'pt-BR'.")
    return list(dict.fromkeys(code.lower() for code in codes)) or ["en"]


def check_plan(plan: SetupPlan) -> None:
    """What can be refused before the database is touched, each with the option to fix."""
    if not plan.branch.strip():
        raise ValidationFailed("--branch: the branch needs a name, like 'Main street clinic'.")
    try:
        validate_timezone(plan.timezone)
    except ValidationFailed as exc:
        raise ValidationFailed(f"--timezone: {exc.message}") from exc
    if not 0 <= plan.rollover_hour <= 23:
        raise ValidationFailed("--rollover-hour: the business day starts at a local hour from 0 to 23.")
    prefixes = [s.prefix for s in plan.services]
    for spec in plan.services:
        if not _PREFIX.match(spec.prefix):
            raise ValidationFailed(
                f"--service {spec.name}:{spec.prefix}: a ticket prefix is 1 to 3 letters A–Z, like 'A' or 'LN'."
            )
    for prefix in prefixes:
        if prefixes.count(prefix) > 1:
            raise ValidationFailed(f"--service: prefix {prefix} is given twice; each service needs its own.")
    names = [c.name for c in plan.counters]
    for counter in plan.counters:
        if names.count(counter.name) > 1:
            raise ValidationFailed(f"--counter: two counters are named {counter.name!r}.")
        unknown = [code for code in counter.prefixes if code not in prefixes]
        if unknown:
            known = ", ".join(prefixes) or "none (add --service Name:PREFIX)"
            raise ValidationFailed(
                f"--counter {counter.name!r} calls {', '.join(unknown)}, but no --service has that prefix. "
                f"Prefixes given: {known}."
            )


def apply_setup(session: Session, plan: SetupPlan) -> SetupResult:
    """Create the branch, the admin, the services and counters; refused (AlreadySetUp) on a site with a branch.
    The caller owns the transaction: on any error nothing is kept."""
    check_plan(plan)
    if has_branch(session):
        raise AlreadySetUp(ALREADY_SET_UP)
    system = Principal()  # audited without a person: the command line on the server
    branch = create_branch(
        session,
        name=plan.branch,
        timezone=plan.timezone,
        day_rollover_hour=plan.rollover_hour,
        languages=plan.languages,
        actor=system,
    )
    admin = create_user(
        session, username=plan.admin, password=plan.password, role=Role.admin, full_name="", actor=system
    )
    ids: dict[str, int] = {}
    for order, spec in enumerate(plan.services, start=1):
        created = create_service(
            session, values={"name": spec.name, "prefix": spec.prefix, "sort_order": order}, actor=system
        )
        ids[created.prefix] = created.id
    for counter in plan.counters:
        create_counter(session, name=counter.name, service_ids=[ids[code] for code in counter.prefixes], actor=system)
    record(
        session,
        actor=None,
        action="site.setup",
        details={
            "branch_id": branch.id,
            "admin": admin.username,
            "services": [s.prefix for s in plan.services],
            "counters": [c.name for c in plan.counters],
        },
    )
    return SetupResult(
        branch_id=branch.id,
        admin_id=admin.id,
        services=[f"{s.name} ({s.prefix})" for s in plan.services],
        counters=[c.name for c in plan.counters],
    )
