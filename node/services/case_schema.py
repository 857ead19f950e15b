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
    prerequisites = fields.List(fields.Nested(PrerequisiteViewSchema), load_default=list, metadata={
        "description": "the item's prior approvals (前置审批) as entered and verified (absent from older nodes' files)"})
