"""Who may do what: the one authorization policy.

``can(actor, action, target)`` answers "may this actor do this (to that)?" and ``require`` raises
the ``PermissionDenied`` that names the field and the rule. Every check of a role or a department
that services, the API, the pages (to hide what a role may not do) and the federation make is a
rule here, so the answer is the same wherever it is asked. Which role fires which *stage* event is
the state machine's business (``lifecycle.responsible_roles``); first-question responsibility (who
may work an assigned case) is a rule here.

Read scope (tenancy) is policy too: ``read_scope`` says which department's or service point's rows
an actor may read, and the persistence layer applies it to every ORM read.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable

from .errors import PermissionDenied
from .lifecycle import Actor
from .divisions import in_subtree
from .roles import HALL_WIDE, Role


class Action(StrEnum):
    SUBMIT_CASE = "submit_case"  # target: the item's department (a clerk's window takes its own)
    ACCEPT_ON_SUBMISSION = "accept_on_submission"
    RECORD_OFFLINE_CASE = "record_offline_case"  # paper or offline processing recorded at submission
    CLAIM_CASE = "claim_case"
    ASSIGN_CASE = "assign_case"  # target: staff_id of the assignee
    WORK_ASSIGNED_CASE = "work_assigned_case"  # target: assignee (staff_id, absent, backup_id)
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"  # target: requested_by
    CLOSE_RECTIFICATION = "close_rectification"
    MANAGE_ITEMS = "manage_items"  # target: department_id
    CREATE_DEPARTMENT = "create_department"
    CREATE_STAFF = "create_staff"  # target: department_id and role of the new account
    LIST_STAFF = "list_staff"
    UPDATE_STAFF = "update_staff"  # target: department_id of the staff member
    READ_LIBRARY = "read_library"
    FETCH_CASE_FILE = "fetch_case_file"
    PUBLISH_STANDARD = "publish_standard"
    READ_STANDARD = "read_standard"
    ADOPT_STANDARD = "adopt_standard"
    IMPORT_CALENDAR = "import_calendar"
    MANAGE_NOTIFICATIONS = "manage_notifications"  # which applicant SMS the hall sends; the outbox
    VERIFY_AUDIT = "verify_audit"
    READ_ALERTS = "read_alerts"
    READ_INTEGRITY = "read_integrity"  # 环节完整性监察 findings: read and mark reviewed by inspectors
    HANDLE_ALERT = "handle_alert"  # acknowledge or resolve
    SET_ACCEPTANCE_OPTIONS = "set_acceptance_options"  # green channel (绿色通道), free agent (代办员) at acceptance
    SIGN_OFF_STAGE = "sign_off_stage"  # target: the stage's role and listed departments (联合审图, 联合踏勘)
    READ_CASE_MATERIAL = "read_case_material"  # target: the case's department (a linked part's: fetched from origin)
    ISSUE_SUPERVISION_ORDER = "issue_supervision_order"  # 督办、纠错: issued (and closed or returned) by inspectors
    RESPOND_SUPERVISION_ORDER = "respond_supervision_order"  # target: the order's department, the case's assignee
    READ_SUPERVISION_ORDERS = "read_supervision_orders"  # target: the order's department (None: the issuer's list)
    HANDLE_COMPLAINT = "handle_complaint"  # 投诉: the node's supervision organ
    READ_ASSESSMENT = "read_assessment"  # 绩效考核: region-wide figures, for inspectors and the hall's leaders
    RAISE_DISPUTE = "raise_dispute"  # target: the joint case's part departments (争议协调)
    RESOLVE_DISPUTE = "resolve_dispute"
    READ_SUPERVISION = "read_supervision"  # lights, overdue lists, counts, timelines of the whole subtree
    WORK_PART = "work_part"  # target: the part's department (any action on a part of a joint case)
    WORK_JOINT_CASE = "work_joint_case"  # accept, refuse, supplement, withdraw a joint case itself


@dataclass(frozen=True)
class Target:
    """What an action is done to, as far as the rules need to know."""

    department_id: int | None = None
    staff_id: int | None = None  # the staff member acted on (assignee, requester)
    role: Role | None = None  # the role of an account being created
    absent: bool = False  # the assignee is away (A/B post)
    backup_id: int | None = None  # the assignee's backup
    departments: frozenset[int] = frozenset()  # the departments a joint stage lists


NOBODY = Target()
Rule = Callable[[Actor, Target], "str | None"]
"""Returns None when allowed, else the reason in words a clerk understands."""


def _roles(*roles: Role, why: str) -> Rule:
    def rule(a: Actor, _t: Target) -> str | None:
        return None if a.role in roles else why
    return rule


def _submit(a: Actor, t: Target) -> str | None:
    """Online by the applicant, by a service point's agent, or at the window: a clerk of the
    hall's window (no department) takes every item, a department's clerk or chief representative
    only that department's (without an item, only the channel is asked)."""
    if a.kind == "applicant" or a.role == Role.AGENT:
        return None
    if a.role in (Role.CLERK, Role.CHIEF):
        if t.department_id is not None and a.department_id not in (None, t.department_id):
            return "this window accepts its own department's items only"
        return None
    return "cases are submitted online, at the window or by a service-point agent"


def _window(why: str) -> Rule:
    def rule(a: Actor, _t: Target) -> str | None:
        return None if a.kind == "staff" and a.role in (Role.CLERK, Role.CHIEF) else why
    return rule


def _assign(a: Actor, t: Target) -> str | None:
    if t.staff_id is not None and t.staff_id != a.staff_id and a.role != Role.CHIEF:
        return "only the chief representative assigns cases to others"
    return None if a.role in (Role.HANDLER, Role.CHIEF) else "cases are claimed by handlers"


def _work_assigned(a: Actor, t: Target) -> str | None:
    """First-question responsibility: an assigned case is worked by its assignee, by their A/B
    backup while they are away, or by the chief representative."""
    if t.staff_id is None or a.staff_id == t.staff_id or a.role == Role.CHIEF:
        return None
    if t.absent and t.backup_id is not None and t.backup_id == a.staff_id:
        return None
    return "only they, their backup while they are away, or the chief representative may act"


def _decide_extension(a: Actor, t: Target) -> str | None:
    if a.role not in (Role.APPROVER, Role.CHIEF):
        return "an extension is approved by an approver or the chief representative"
    if t.staff_id is not None and t.staff_id == a.staff_id:
        return "nobody approves their own extension request"
    return None


def _manage_items(a: Actor, t: Target) -> str | None:
    if a.role == Role.ADMIN or (a.role == Role.CHIEF and a.department_id == t.department_id):
        return None
    return "only the hall admin or the department's chief representative manages its items"


def _create_staff(a: Actor, t: Target) -> str | None:
    if a.role == Role.ADMIN:
        return None
    if a.role != Role.CHIEF:
        return "this needs one of the roles: admin, chief"
    if t.role in (Role.ADMIN, Role.INSPECTOR, Role.AGENT):
        return f"a chief representative cannot create '{t.role}' accounts"
    if t.department_id != a.department_id:
        return "a chief representative adds staff to their own department only"
    return None


def _update_staff(a: Actor, t: Target) -> str | None:
    """Without a staff member (``t.staff_id`` None) this asks only whether the role may update staff."""
    if a.role == Role.ADMIN or (a.role == Role.CHIEF and (t.staff_id is None or t.department_id == a.department_id)):
        return None
    return "this needs one of the roles: admin, chief (of the staff member's department)"


def _sign_off(a: Actor, t: Target) -> str | None:
    """A joint review or inspection: each listed department signs its own row, by the stage's role
    or its chief representative."""
    if a.kind != "staff" or a.department_id is None or a.department_id not in t.departments:
        return "your department is not listed for this joint review or inspection"
    if a.role not in (t.role, Role.CHIEF):
        return f"your department signs by its {t.role or 'responsible role'} or its chief representative"
    return None


def _case_department(a: Actor, t: Target) -> str | None:
    """A material's bytes are read by the staff of the case's department (a linked part: the
    department working it here), not by the window, agents or other departments."""
    if a.kind != "staff" or a.role in (None, Role.AGENT, Role.CLERK) or a.department_id != t.department_id:
        return "a case's materials are read by the staff of the department working it"
    return None


def _respond_order(a: Actor, t: Target) -> str | None:
    """An order is answered by the case's department: its chief representative, or the handler the
    case is assigned to."""
    if a.kind != "staff" or a.department_id is None or a.department_id != t.department_id:
        return "this order is addressed to another department"
    if a.role == Role.CHIEF or (t.staff_id is not None and a.staff_id == t.staff_id):
        return None
    return "an order is answered by the department's chief representative or the case's handler"


def _read_orders(a: Actor, t: Target) -> str | None:
    if a.kind == "staff" and a.role in HALL_WIDE:
        return None
    if a.kind == "staff" and a.department_id is not None and t.department_id == a.department_id:
        return None
    return "supervision orders are for inspectors and the department they are addressed to"


def _raise_dispute(a: Actor, t: Target) -> str | None:
    if a.kind != "staff" or a.role != Role.CHIEF or a.department_id not in t.departments:
        return "a dispute is raised by the chief representative of a department working a part of the joint case"
    return None


def _work_part(a: Actor, t: Target) -> str | None:
    """A part of a joint case is its department's: a department acts only on its own part (the
    joint item's department has no more power over the other parts than any other department).
    The hall's window (staff of no department: the clerk who accepts and concludes at the one
    window) and an agent acting for the applicant reach every part; which role fires which event
    is the state machine's."""
    if a.kind != "staff":
        return None
    if a.role is None:
        return "a staff account without a role acts on no case"
    if a.role == Role.AGENT or a.department_id is None:
        return None
    if a.department_id != t.department_id:
        return "a department acts only on its own part of a joint case (联办件)"
    return None


def _work_joint_case(a: Actor, _t: Target) -> str | None:
    """A joint case itself is worked at the hall's one window (一窗受理): the window clerk accepts,
    refuses or asks for a supplement; the applicant (or their agent, or the window for them)
    supplies or withdraws. No department -- the joint item's own included -- accepts or withdraws
    it: that would act on every other department's part."""
    if a.kind != "staff" or a.role == Role.AGENT:
        return None
    if a.role == Role.CLERK and a.department_id is None:
        return None
    return "a joint case (联办件) is accepted and withdrawn at the hall's one window; departments act on their parts"


def _staff_not_agent(a: Actor, _t: Target) -> str | None:
    return None if a.kind == "staff" and a.role not in (None, Role.AGENT) else "the standard catalog is for hall staff"


LIBRARY_READERS = frozenset({Role.ADMIN, Role.INSPECTOR, Role.CHIEF, Role.CLERK, Role.HANDLER, Role.REVIEWER,
                             Role.APPROVER})

RULES: dict[Action, tuple[Rule, str]] = {
    Action.SUBMIT_CASE: (_submit, "role"),
    Action.ACCEPT_ON_SUBMISSION: (_window("only the window accepts on submission"), "accept"),
    Action.RECORD_OFFLINE_CASE: (_window("only the window records paper or offline processed cases"), "processing"),
    Action.CLAIM_CASE: (_assign, "staff_id"),
    Action.ASSIGN_CASE: (_assign, "staff_id"),
    Action.WORK_ASSIGNED_CASE: (_work_assigned, "event"),
    Action.REQUEST_EXTENSION: (_roles(Role.HANDLER, Role.REVIEWER, Role.APPROVER, Role.CHIEF,
                                      why="extensions are requested by the department's staff"), "role"),
    Action.DECIDE_EXTENSION: (_decide_extension, "extension_id"),
    Action.CLOSE_RECTIFICATION: (_roles(Role.CHIEF, Role.ADMIN,
                                        why="the chief representative closes rectifications"), "role"),
    Action.MANAGE_ITEMS: (_manage_items, "department_id"),
    Action.CREATE_DEPARTMENT: (_roles(Role.ADMIN, why="this needs one of the roles: admin"), "role"),
    Action.CREATE_STAFF: (_create_staff, "role"),
    Action.LIST_STAFF: (_roles(Role.ADMIN, Role.CHIEF, Role.INSPECTOR,
                               why="this needs one of the roles: admin, chief, inspector"), "role"),
    Action.UPDATE_STAFF: (_update_staff, "staff_id"),
    Action.READ_LIBRARY: (_roles(*LIBRARY_READERS, why="the shared library is for hall staff and inspectors"), "role"),
    Action.FETCH_CASE_FILE: (_roles(Role.INSPECTOR,
                                    why="only inspectors (监察) may fetch a case file from its owner"), "role"),
    Action.PUBLISH_STANDARD: (_roles(Role.ADMIN, why="only the hall admin publishes the standard catalog"), "role"),
    Action.READ_STANDARD: (_staff_not_agent, "role"),
    Action.ADOPT_STANDARD: (_roles(Role.ADMIN, Role.CHIEF, why="only the hall admin or a department's chief "
                                                               "representative adopts standard items"), "role"),
    Action.IMPORT_CALENDAR: (_roles(Role.ADMIN, why="this needs one of the roles: admin"), "role"),
    Action.MANAGE_NOTIFICATIONS: (_roles(Role.ADMIN, why="the applicant messages are the hall admin's to set"), "role"),
    Action.VERIFY_AUDIT: (_roles(Role.ADMIN, Role.INSPECTOR, why="this needs one of the roles: admin, inspector"),
                          "role"),
    Action.READ_ALERTS: (_roles(Role.ADMIN, Role.INSPECTOR, why="alerts are for the hall admin and inspectors"),
                         "role"),
    Action.READ_INTEGRITY: (_roles(Role.INSPECTOR, why="integrity findings are for inspectors (监察)"), "role"),
    Action.HANDLE_ALERT: (_roles(Role.ADMIN, Role.INSPECTOR,
                                 why="only the hall admin or an inspector acknowledges or resolves alerts"), "role"),
    Action.SET_ACCEPTANCE_OPTIONS: (_window("the window sets the green channel and the agent at acceptance"),
                                    "green_channel"),
    Action.SIGN_OFF_STAGE: (_sign_off, "index"),
    Action.READ_CASE_MATERIAL: (_case_department, "digest"),
    Action.ISSUE_SUPERVISION_ORDER: (_roles(Role.INSPECTOR, why="supervision and correction orders are issued, "
                                                                "closed and returned by inspectors (监察)"), "role"),
    Action.RESPOND_SUPERVISION_ORDER: (_respond_order, "order_id"),
    Action.READ_SUPERVISION_ORDERS: (_read_orders, "role"),
    Action.READ_ASSESSMENT: (_roles(Role.INSPECTOR, Role.ADMIN, Role.CHIEF,
                                    why="performance assessment (绩效考核) is for inspectors, the hall admin and chief"),
                             "role"),
    Action.HANDLE_COMPLAINT: (_roles(Role.INSPECTOR, why="complaints are handled by the inspectors (监察)"), "role"),
    Action.RAISE_DISPUTE: (_raise_dispute, "part_no"),
    Action.RESOLVE_DISPUTE: (_roles(Role.ADMIN, Role.INSPECTOR,
                                    why="disputes are resolved by coordination: the hall admin or an inspector"),
                             "role"),
    Action.READ_SUPERVISION: (_roles(Role.INSPECTOR, Role.ADMIN,
                                     why="supervision data of the region is for inspectors (监察) and the hall admin"),
                              "role"),
    Action.WORK_PART: (_work_part, "code"),
    Action.WORK_JOINT_CASE: (_work_joint_case, "code"),
}


def why_not(actor: Actor, action: Action, target: Target = NOBODY) -> str | None:
    """None when ``actor`` may do ``action`` to ``target``, else the reason. The system (the node
    itself: its command line, run by whoever holds its shell, its tasks and its federation
    apply) may do everything; the applicant and staff are held to the rules."""
    if actor.kind == "system":
        return None
    return RULES[action][0](actor, target)


def can(actor: Actor, action: Action, target: Target = NOBODY) -> bool:
    return why_not(actor, action, target) is None


def require(actor: Actor, action: Action, target: Target = NOBODY, field: str | None = None) -> None:
    """Raise ``PermissionDenied`` naming the field and the rule unless ``can(actor, action, target)``."""
    reason = why_not(actor, action, target)
    if reason is not None:
        raise PermissionDenied(reason, field=field or RULES[action][1])


def allowed_actions(actor: Actor, target: Target = NOBODY) -> list[str]:
    """Every action ``actor`` may do to ``target``: what a page may offer."""
    return [a.value for a in Action if can(actor, a, target)]


def require_region(actor: Actor, node_id: str, region: str) -> None:
    """A region filter (a division-code prefix) must lie in this node's subtree: an inspector of a
    city asks about that city and below, never about another city or the whole province."""
    if actor.kind == "system":
        return
    if not in_subtree(region.ljust(6, "0"), node_id):
        raise PermissionDenied(f"region {region} is outside this node's subtree ({node_id})", field="region")


def alert_visible(node_id: str, origin: str) -> bool:
    """An alert about a node is for that node's admin and for the admins and inspectors of every
    node above it. Staff are accounts of one node, so at ``node_id`` that is: the alert is about
    ``node_id`` or a division below it. (What a county raises about its parent -- a bad catalog
    change, say -- travels up in its log and is seen where that parent's supervisors are.)"""
    return in_subtree(origin, node_id)


def read_scope(actor: Actor | None) -> tuple[int | None, int | None]:
    """(department, service point) the actor's reads are confined to; None: not confined.

    Department staff read their department's rows; an agent reads only their service point's
    cases (an agent without a point reads none); hall-wide roles, the applicant (who proves each
    case with a second factor) and the system read everything."""
    if actor is None or actor.kind != "staff":
        return None, None
    if actor.role == Role.AGENT:
        return None, actor.service_point_id if actor.service_point_id is not None else -1
    if actor.role not in HALL_WIDE and actor.department_id is not None:
        return actor.department_id, None
    return None, None
