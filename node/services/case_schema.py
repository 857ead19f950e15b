"""The one schema of a case as it leaves a node: the staff API's answer (``GET /api/v1/cases/{code}``)
and the case file an inspector above fetches (dumped at the owner into ``detail_json``, loaded --
validated -- at the inspector's node, documented in both OpenAPI documents).

Times are ISO 8601 with their offset (``2026-03-02T09:00:00+08:00``), dates ISO (``2026-03-20``).
Built from ``views.staff_view`` / ``views.case_file``: one presenter, one schema. Unknown fields
are ignored when a file is loaded, so a file from an owner one version ahead still loads.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields


class _View(Schema):
    class Meta:
        unknown = EXCLUDE


class StageViewSchema(_View):
    index = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    time_limit_days = fields.Integer(required=True)


class TransitionViewSchema(_View):
    seq = fields.Integer(required=True)
    event = fields.String(required=True)
    from_status = fields.String(allow_none=True, required=True)
    from_stage = fields.Integer(allow_none=True, required=True)
    to_status = fields.String(required=True)
    to_stage = fields.Integer(allow_none=True, required=True)
    actor = fields.String(required=True)
    actor_role = fields.String(allow_none=True, required=True)
    occurred_at = fields.AwareDateTime(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    backfilled = fields.Boolean(required=True)
    stage_deadline = fields.Date(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)
    data = fields.Dict(required=True)


class MaterialViewSchema(_View):
    material_code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "the material's name in the item's list"})
    digest = fields.String(required=True, metadata={"description": "SHA-256 of the file, hex"})
    size = fields.Integer(required=True)
    file_type = fields.String(required=True)
    filename = fields.String(required=True)
    added_at = fields.AwareDateTime(required=True)


class LicenseViewSchema(_View):
    number = fields.String(required=True)
    name = fields.String(required=True)
    holder_name = fields.String(metadata={"description": "staff view and case file (not on public pages)"})
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(allow_none=True, required=True)
    issued_at = fields.AwareDateTime(metadata={"description": "staff view and case file (not on public pages)"})
    status = fields.String(required=True)


class ApplicantViewSchema(_View):
    name = fields.String(required=True)
    id_type = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"description": "masked (3301**********1234) in a case file"})
    phone = fields.String(allow_none=True, required=True, metadata={"description": "masked in a case file"})
    org = fields.String(allow_none=True, required=True)
    id_number_hash = fields.String(metadata={
        "description": "case file only: the ID number's keyed hash (the federation's key), to compare with "
                       "an ID number the inspector holds (the library's applicant_id_hash)"})


class PartViewSchema(_View):
    part_no = fields.Integer(required=True)
    item_code = fields.String(required=True)
    item_name = fields.String(required=True)
    department_id = fields.Integer(allow_none=True, required=True)
    department_name = fields.String(allow_none=True, required=True)
    status = fields.String(required=True)
    deadline = fields.Date(allow_none=True, required=True, metadata={"description": "the part's promised deadline"})
    result = fields.String(allow_none=True, required=True)
    code = fields.String(allow_none=True, required=True, metadata={"description": "the part's own service code"})
    remote_node = fields.String(allow_none=True, load_default=None,
                                metadata={"description": "市区两级联动: the node that works this part"})
    link = fields.Dict(allow_none=True, load_default=None, metadata={
        "description": "a remote part: its dispatch {node, state: waiting|received|refused, code, text, link}"})
    progress = fields.Dict(allow_none=True, load_default=None, metadata={
        "description": "a remote part: what its node last reported (code, stage, event, reason, license_number, ...)"})


class TimelineStepSchema(_View):
    part_no = fields.Integer(required=True, metadata={"description": "0: the joint case itself"})
    code = fields.String(required=True)
    seq = fields.Integer(required=True)
    event = fields.String(required=True)
    to_status = fields.String(required=True)
    stage = fields.String(allow_none=True, required=True)
    occurred_at = fields.AwareDateTime(required=True)
    actor = fields.String(metadata={"description": "staff view only"})
    actor_role = fields.String(allow_none=True, metadata={"description": "staff view only"})
    reason = fields.String(allow_none=True, metadata={"description": "staff view only"})


class JointViewSchema(_View):
    decision = fields.String(allow_none=True, required=True, metadata={"description": "all_must_approve | independent"})
    status = fields.String(required=True, metadata={"description": "derived from the parts' statuses"})
    parts = fields.List(fields.Nested(PartViewSchema), required=True)
    timeline = fields.List(fields.Nested(TimelineStepSchema), required=True,
                           metadata={"description": "every part's transitions and the joint case's, in time order"})


class PartOfSchema(_View):
    joint_code = fields.String(required=True)
    part_no = fields.Integer(required=True)
    origin = fields.String(allow_none=True, load_default=None,
                           metadata={"description": "a part of another node's joint case: that node"})


class SignoffViewSchema(_View):
    stage_index = fields.Integer(required=True)
    department = fields.String(required=True, metadata={"description": "the signing department's code"})
    opinion = fields.String(required=True)
    signed_by = fields.Integer(required=True)
    signed_at = fields.AwareDateTime(required=True)
class PrerequisiteViewSchema(_View):
    item_code = fields.String(required=True, metadata={"description": "the item whose result is required"})
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "license (a license number) or case (a service code)"})
    reference = fields.String(required=True, metadata={"description": "the license number or service code entered"})
    valid = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True, metadata={
        "description": "why not: not_found, other_holder, wrong_item, expired, not_yet_valid, revoked, not_approved; "
                       "null when valid or not checked yet"})
    result_item_code = fields.String(allow_none=True, required=True)
    result_name = fields.String(allow_none=True, required=True)
    valid_from = fields.Date(allow_none=True, required=True)
    valid_until = fields.Date(allow_none=True, required=True)
    answered_by = fields.String(allow_none=True, required=True, metadata={"description": "the node whose records answered"})
    checked_on = fields.Date(allow_none=True, required=True, metadata={"description": "the day validity was checked for"})
    checked_at = fields.AwareDateTime(allow_none=True, required=True, metadata={"description": "null: not checked yet"})
    checked_by = fields.String(allow_none=True, required=True)
    entered_at = fields.AwareDateTime(required=True)
    entered_by = fields.String(required=True)


class CaseSchema(_View):
    code = fields.String(required=True)
    version = fields.Integer(required=True)
    item_code = fields.String(required=True)
    item_name = fields.String(required=True)
    item_version = fields.Integer(required=True)
    department_id = fields.Integer(required=True)
    channel = fields.String(required=True)
    service_point_id = fields.Integer(allow_none=True, required=True)
    processing = fields.String(required=True)
    applicant = fields.Nested(ApplicantViewSchema, required=True)
    form = fields.Dict(required=True)
    status = fields.String(required=True)
    stage = fields.Nested(StageViewSchema, allow_none=True, required=True)
    stages = fields.List(fields.Nested(StageViewSchema), required=True)
    allowed_events = fields.List(fields.String(), required=True)
    assignee_id = fields.Integer(allow_none=True, required=True)
    submitted_at = fields.AwareDateTime(required=True)
    accepted_at = fields.AwareDateTime(allow_none=True, required=True)
    concluded_at = fields.AwareDateTime(allow_none=True, required=True)
    legal_deadline = fields.Date(allow_none=True, required=True)
    promised_deadline = fields.Date(allow_none=True, required=True)
    stage_deadline = fields.Date(allow_none=True, required=True)
    paused_days = fields.Integer(required=True)
    extended_days = fields.Integer(required=True)
    result = fields.String(allow_none=True, required=True)
    result_reason = fields.String(allow_none=True, required=True)
    license = fields.Nested(LicenseViewSchema, allow_none=True, required=True)
    materials = fields.List(fields.Nested(MaterialViewSchema), required=True)
    transitions = fields.List(fields.Nested(TransitionViewSchema), required=True)
    # Joint cases (newer than the fields above: absent in a file from an older owner)
    green_channel = fields.Boolean(load_default=False, metadata={"description": "绿色通道: first in every queue"})
    light = fields.String(allow_none=True, metadata={"description": "the case's light against its promised (else legal) "
                                                                    "deadline: green, yellow (预警), red (overdue), "
                                                                    "on_time, late; null: no deadline"})
    stage_light = fields.String(allow_none=True, metadata={"description": "the current stage's light"})
    agent_staff_id = fields.Integer(allow_none=True, load_default=None,
                                    metadata={"description": "the free agent (代办员) acting for the applicant"})
    joint = fields.Nested(JointViewSchema, allow_none=True, load_default=None,
                          metadata={"description": "a joint case (联办件): its parts and merged timeline"})
    part_of = fields.Nested(PartOfSchema, allow_none=True, load_default=None,
                            metadata={"description": "a part: its joint case's code and the part's number"})
    signoffs = fields.List(fields.Nested(SignoffViewSchema), load_default=list,
                           metadata={"description": "sign-offs of the item's joint review/inspection stages"})
    prerequisites = fields.List(fields.Nested(PrerequisiteViewSchema), load_default=list, metadata={
        "description": "the item's prior approvals (前置审批) as entered and verified (absent from older nodes' files)"})
    supervision_orders = fields.List(fields.Dict(), load_default=list, metadata={
        "description": "supervision and correction orders (督办、纠错) on this case at this node (one case's view only)"})
