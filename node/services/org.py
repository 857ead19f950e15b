"""Departments, towns and sub-district offices, village service points, staff, sign-in and A/B posts (AB岗)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from node.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated, WrongPassword
from node.domain.lifecycle import Actor
from node.domain.passwords import DEMO_PASSWORD, check_password
from node.domain.policy import Action, Target, can, require
from node.domain.roles import Role
from node.domain.units import check_kind, check_parent
from node.persistence.models import ApiToken, Department, Staff

from .context import NodeContext, Work, as_cst

_DUMMY_HASH = generate_password_hash("yiwang-timing-equaliser")


def actor_of(staff: Staff, dept_kind: str | None) -> Actor:
    role = Role(staff.role)
    if role == Role.AGENT:
        return Actor("staff", staff.id, role, None, staff.department_id)
    return Actor("staff", staff.id, role, staff.department_id)


@dataclass
class Authenticated:
    actor: Actor
    staff: Staff


def login(uow: Work, username: str, password: str) -> tuple[str, Staff]:
    """Check a password; return a new bearer token (only its SHA-256 is stored)."""
    s = uow.session
    staff = s.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active:
        check_password_hash(_DUMMY_HASH, password)  # same cost whether or not the user exists
        raise WrongPassword("wrong username or password", field="password")
    if not check_password_hash(staff.password_hash, password):
        raise WrongPassword("wrong username or password", field="password")
    token = secrets.token_urlsafe(32)
    s.add(ApiToken(token_hash=hashlib.sha256(token.encode()).hexdigest(), staff_id=staff.id,
                   created_at=uow.now, expires_at=uow.now + timedelta(hours=uow.ctx.settings.token_ttl_hours)))
    return token, staff


def authenticate(ctx: NodeContext, token: str) -> Authenticated:
    h = hashlib.sha256(token.encode()).hexdigest()
    with ctx.factory() as s:
        row = s.execute(
            select(ApiToken, Staff, Department.kind).join(Staff, Staff.id == ApiToken.staff_id)
            .outerjoin(Department, Department.id == Staff.department_id).where(ApiToken.token_hash == h)
        ).first()
        if row is None:
            raise Unauthenticated("the bearer token is unknown; sign in again", field="Authorization")
        tok, staff, kind = row
        if as_cst(tok.expires_at) < ctx.clock() or not staff.active:
            raise Unauthenticated("the bearer token has expired; sign in again", field="Authorization")
        s.expunge(staff)
        return Authenticated(actor_of(staff, kind), staff)


def logout(uow: Work, token: str) -> None:
    h = hashlib.sha256(token.encode()).hexdigest()
    tok = uow.session.get(ApiToken, h)
    if tok is not None:
        uow.session.delete(tok)


def create_department(uow: Work, code: str, name: str, kind: str = "department",
                      parent_unit_id: int | None = None) -> Department:
    """A department, a town or sub-district office (镇/街道: a unit with its own staff and items) or
    a village service point (optionally of a town: ``parent_unit_id``)."""
    require(uow.actor, Action.CREATE_DEPARTMENT)
    check_kind(kind)
    if uow.session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise InvalidInput(f"a department with code '{code}' exists already", field="code")
    if parent_unit_id is not None:
        _check_parent(uow, None, kind, parent_unit_id)
    d = Department(code=code, name=name, kind=kind, parent_unit_id=parent_unit_id, created_at=uow.now)
    uow.session.add(d)
    uow.session.flush()
    return d


def _check_parent(uow: Work, unit_id: int | None, kind: str, parent_id: int) -> None:
    s = uow.session
    parent = s.get(Department, parent_id)
    if parent is None:
        raise InvalidInput(f"unit {parent_id} does not exist", field="parent_unit_id")
    ancestors: list[int] = []
    up = parent.parent_unit_id
    while up is not None and up not in ancestors and len(ancestors) < 16:
        ancestors.append(up)
        row = s.get(Department, up)
        up = row.parent_unit_id if row is not None else None
    check_parent(unit_id, kind, parent.id, parent.kind, ancestors)


def set_parent_unit(uow: Work, unit_id: int, parent_unit_id: int | None) -> Department:
    """Attach a village service point to a town or sub-district office (None: detach it)."""
    require(uow.actor, Action.CREATE_DEPARTMENT)
    d = uow.session.get(Department, unit_id)
    if d is None:
        raise NotFound(f"no unit {unit_id}", field="unit_id")
    if parent_unit_id is not None:
        _check_parent(uow, d.id, d.kind, parent_unit_id)
    d.parent_unit_id = parent_unit_id
    return d


def list_departments(uow: Work) -> list[Department]:
    return list(uow.session.scalars(select(Department).order_by(Department.id)))


def create_staff(uow: Work, *, username: str, name: str, password: str, role: str,
                 department_id: int | None = None, phone: str | None = None) -> Staff:
    """A hall admin creates anyone; a chief representative only staff of their own department.

    A unit of work acting as the system is the command line's bootstrap path (the first admin)."""
    try:
        r = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role '{role}'; one of {', '.join(x.value for x in Role)}", field="role") from None
    require(uow.actor, Action.CREATE_STAFF, Target(department_id=department_id, role=r),
            field="department_id" if uow.actor.role == Role.CHIEF and r not in (Role.ADMIN, Role.INSPECTOR, Role.AGENT)
            else "role")
    s = uow.session
    if department_id is not None:
        dept = s.get(Department, department_id)
        if dept is None:
            raise InvalidInput(f"department {department_id} does not exist", field="department_id")
        if (r == Role.AGENT) != (dept.kind == "service_point"):
            raise InvalidInput("agents belong to a service point, other staff to a department, a town or a "
                               "sub-district office",
                               field="department_id")
    elif r in (Role.HANDLER, Role.REVIEWER, Role.APPROVER, Role.CHIEF, Role.AGENT):
        raise InvalidInput(f"a '{r}' must belong to a department or service point", field="department_id")
    if s.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise InvalidInput(f"username '{username}' is taken", field="username")
    check_password(password, username, name)
    st = Staff(username=username, name=name, password_hash=generate_password_hash(password), role=r.value,
               department_id=department_id, phone=phone, absent=False, active=True, created_at=uow.now)
    s.add(st)
    s.flush()
    return st


def list_staff(uow: Work) -> list[Staff]:
    actor = uow.actor
    require(actor, Action.LIST_STAFF)
    q = select(Staff).order_by(Staff.id)
    if actor.role == Role.CHIEF:
        q = q.where(Staff.department_id == actor.department_id)
    return list(uow.session.scalars(q))


def list_agents(uow: Work) -> list[Staff]:
    """The active village agents (代办员) a clerk may name as a case's free agent at acceptance."""
    require(uow.actor, Action.SET_ACCEPTANCE_OPTIONS, field="agent_staff_id")
    return list(uow.session.scalars(select(Staff).where(Staff.role == Role.AGENT.value, Staff.active.is_(True))
                                    .order_by(Staff.id)))


def update_staff(uow: Work, staff_id: int, *, backup_id: int | None = None,
                 absent: bool | None = None, active: bool | None = None, clear_backup: bool = False) -> Staff:
    """Set the A/B post (backup), mark someone absent (their backup takes over their cases) or
    deactivate them (never oneself, never the last active hall admin)."""
    actor = uow.actor
    require(actor, Action.UPDATE_STAFF, field="role")
    s = uow.session
    st = s.get(Staff, staff_id)
    if st is None or not can(actor, Action.UPDATE_STAFF, Target(department_id=st.department_id, staff_id=st.id)):
        raise NotFound(f"no staff member {staff_id} in your department", field="staff_id")
    if backup_id is not None:
        b = s.get(Staff, backup_id)
        if b is None or b.department_id != st.department_id or b.id == st.id:
            raise InvalidInput("the backup must be another member of the same department", field="backup_id")
        st.backup_id = backup_id
    if clear_backup:
        st.backup_id = None
    if absent is not None:
        st.absent = absent
    if active is False and st.active:
        _check_deactivation(uow, st)
    if active is not None:
        st.active = active
    return st


def _check_deactivation(uow: Work, st: Staff) -> None:
    """Nobody deactivates their own account (a slip of the hand would lock them out, and an
    account that ends itself leaves no second person accountable), and the last active hall admin
    is never deactivated: nobody could create accounts or departments any more. The active
    admins' rows are locked, so two admins deactivating each other at once cannot both win."""
    if uow.actor.kind == "staff" and st.id == uow.actor.staff_id:
        raise Conflict("you cannot deactivate your own account; ask another hall admin to do it",
                       field="active")
    if st.role != Role.ADMIN.value:
        return
    admins = uow.session.scalars(select(Staff.id).where(Staff.role == Role.ADMIN.value, Staff.active.is_(True))
                                 .with_for_update()).all()
    if not set(admins) - {st.id}:
        raise Conflict("this is the last active hall admin; create or reactivate another admin first",
                       field="active")
def set_password(uow: Work, username: str, password: str) -> Staff:
    """Give an account a new password (the policy of ``node.domain.passwords``); whoever may
    create such an account may (the system: ``yiwang staff set-password``). Its tokens are
    revoked: whoever knew the old password is signed out."""
    s = uow.session
    st = s.scalar(select(Staff).where(Staff.username == username))
    if st is None:
        raise NotFound(f"no account '{username}'", field="username")
    require(uow.actor, Action.CREATE_STAFF, Target(department_id=st.department_id, role=Role(st.role)), field="username")
    check_password(password, st.username, st.name)
    if password == DEMO_PASSWORD and not uow.ctx.settings.demo:
        raise InvalidInput("这是演示密码，不能使用 / this is the demo password: a node outside demo mode refuses "
                           "to start while an account has it", field="password")
    st.password_hash = generate_password_hash(password)
    s.execute(delete(ApiToken).where(ApiToken.staff_id == st.id))
    return st
