"""The one authorization policy (``node.domain.policy``), asked directly."""
from __future__ import annotations

import pytest

from node.domain.errors import PermissionDenied
from node.domain.lifecycle import Actor
from node.domain.policy import Action, Target, allowed_actions, can, read_scope, require
from node.domain.roles import Role

pytestmark = pytest.mark.unit


def staff(role: Role, dept: int | None = 1, sid: int = 10, point: int | None = None) -> Actor:
    return Actor("staff", sid, role, dept, point)


APPLICANT = Actor("applicant")
SYSTEM = Actor("system")


def test_submission_channels_and_the_clerks_own_department():
    assert can(APPLICANT, Action.SUBMIT_CASE)
    assert can(staff(Role.AGENT, None, point=7), Action.SUBMIT_CASE)
    assert can(staff(Role.CLERK, None), Action.SUBMIT_CASE, Target(department_id=3))  # a hall-wide window
    assert can(staff(Role.CLERK, 3), Action.SUBMIT_CASE, Target(department_id=3))
    assert not can(staff(Role.CLERK, 3), Action.SUBMIT_CASE, Target(department_id=4))
    assert not can(staff(Role.CHIEF, 3), Action.SUBMIT_CASE, Target(department_id=4))
    for r in (Role.HANDLER, Role.REVIEWER, Role.APPROVER, Role.INSPECTOR, Role.ADMIN):
        assert not can(staff(r), Action.SUBMIT_CASE), r
    assert not can(APPLICANT, Action.ACCEPT_ON_SUBMISSION) and not can(staff(Role.AGENT), Action.RECORD_OFFLINE_CASE)
    assert can(staff(Role.CLERK), Action.ACCEPT_ON_SUBMISSION) and can(staff(Role.CHIEF), Action.RECORD_OFFLINE_CASE)


def test_first_question_responsibility():
    assigned = Target(staff_id=20, absent=False, backup_id=21)
    assert can(staff(Role.HANDLER, sid=20), Action.WORK_ASSIGNED_CASE, assigned)
    assert not can(staff(Role.HANDLER, sid=21), Action.WORK_ASSIGNED_CASE, assigned)  # the backup, while present
    away = Target(staff_id=20, absent=True, backup_id=21)
    assert can(staff(Role.HANDLER, sid=21), Action.WORK_ASSIGNED_CASE, away)
    assert not can(staff(Role.HANDLER, sid=22), Action.WORK_ASSIGNED_CASE, away)
    assert can(staff(Role.CHIEF, sid=99), Action.WORK_ASSIGNED_CASE, assigned)


def test_extensions_are_decided_by_a_higher_role_never_by_the_requester():
    assert can(staff(Role.HANDLER), Action.REQUEST_EXTENSION) and not can(staff(Role.CLERK), Action.REQUEST_EXTENSION)
    assert not can(staff(Role.HANDLER), Action.DECIDE_EXTENSION, Target(staff_id=5))
    assert can(staff(Role.APPROVER, sid=6), Action.DECIDE_EXTENSION, Target(staff_id=5))
    assert not can(staff(Role.APPROVER, sid=5), Action.DECIDE_EXTENSION, Target(staff_id=5))
    with pytest.raises(PermissionDenied) as e:
        require(staff(Role.CHIEF, sid=5), Action.DECIDE_EXTENSION, Target(staff_id=5))
    assert e.value.field == "extension_id" and "own" in e.value.message


def test_items_and_staff_are_managed_within_the_chiefs_department():
    assert can(staff(Role.ADMIN, None), Action.MANAGE_ITEMS, Target(department_id=2))
    assert can(staff(Role.CHIEF, 2), Action.MANAGE_ITEMS, Target(department_id=2))
    assert not can(staff(Role.CHIEF, 2), Action.MANAGE_ITEMS, Target(department_id=3))
    assert can(staff(Role.CHIEF, 2), Action.CREATE_STAFF, Target(department_id=2, role=Role.HANDLER))
    assert not can(staff(Role.CHIEF, 2), Action.CREATE_STAFF, Target(department_id=3, role=Role.HANDLER))
    assert not can(staff(Role.CHIEF, 2), Action.CREATE_STAFF, Target(department_id=2, role=Role.ADMIN))
    assert not can(staff(Role.CHIEF, 2), Action.UPDATE_STAFF, Target(staff_id=1, department_id=None))  # the admin
    assert can(staff(Role.CHIEF, 2), Action.UPDATE_STAFF, Target(staff_id=8, department_id=2))


def test_library_case_files_and_the_standard_catalog():
    assert can(staff(Role.HANDLER), Action.READ_LIBRARY) and not can(staff(Role.AGENT), Action.READ_LIBRARY)
    assert not can(APPLICANT, Action.READ_LIBRARY)
    assert can(staff(Role.INSPECTOR, None), Action.FETCH_CASE_FILE)
    assert not can(staff(Role.ADMIN, None), Action.FETCH_CASE_FILE)
    assert not can(staff(Role.AGENT), Action.READ_STANDARD) and can(staff(Role.CLERK), Action.READ_STANDARD)
    assert can(staff(Role.ADMIN, None), Action.PUBLISH_STANDARD) and not can(staff(Role.CHIEF), Action.PUBLISH_STANDARD)


def test_every_action_has_a_rule_and_a_field_and_pages_can_list_what_to_offer():
    someone_elses = Target(staff_id=99)  # an assigned case: its assignee (another) works it
    for a in Action:
        with pytest.raises(PermissionDenied) as e:
            require(Actor("staff", 1, None), a, someone_elses)  # a staff account without a role may do nothing
        assert e.value.field and e.value.message
        assert can(SYSTEM, a)
    offered = allowed_actions(staff(Role.CLERK, None))
    assert "submit_case" in offered and "decide_extension" not in offered
    # the applicant acts on a joint case and its parts only by the state machine's applicant events
    assert allowed_actions(APPLICANT, someone_elses) == ["submit_case", "work_part", "work_joint_case"]


def test_read_scope():
    assert read_scope(None) == (None, None) and read_scope(APPLICANT) == (None, None)
    assert read_scope(staff(Role.HANDLER, 4)) == (4, None)
    assert read_scope(staff(Role.INSPECTOR, 4)) == (None, None)
    assert read_scope(staff(Role.AGENT, None, point=9)) == (None, 9)
    assert read_scope(staff(Role.AGENT, None, point=None)) == (None, -1)
