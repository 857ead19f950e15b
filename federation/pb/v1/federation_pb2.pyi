from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseEvent(_message.Message):
    __slots__ = ("service_code", "item_code", "item_version", "item_name", "department_code", "department_name", "event", "status", "stage_index", "stage_kind", "stage_name", "occurred_at_ms", "recorded_at_ms", "backfilled", "legal_deadline", "promised_deadline", "stage_deadline", "actor", "actor_role", "channel", "result", "applicant_id_hash", "applicant_name_masked", "applicant_id_masked", "material_digests", "license", "evaluation_score", "extension_days", "reason", "joint_code", "part_no", "service_point")
    SERVICE_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEM_NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_FIELD_NUMBER: _ClassVar[int]
    LEGAL_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PROMISED_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    STAGE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_ID_HASH_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_NAME_MASKED_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_ID_MASKED_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_DAYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    JOINT_CODE_FIELD_NUMBER: _ClassVar[int]
    PART_NO_FIELD_NUMBER: _ClassVar[int]
    SERVICE_POINT_FIELD_NUMBER: _ClassVar[int]
    service_code: str
    item_code: str
    item_version: int
    item_name: str
    department_code: str
    department_name: str
    event: str
    status: str
    stage_index: int
    stage_kind: str
    stage_name: str
    occurred_at_ms: int
    recorded_at_ms: int
    backfilled: bool
    legal_deadline: str
    promised_deadline: str
    stage_deadline: str
    actor: str
    actor_role: str
    channel: str
    result: str
    applicant_id_hash: str
    applicant_name_masked: str
    applicant_id_masked: str
    material_digests: _containers.RepeatedScalarFieldContainer[str]
    license: License
    evaluation_score: int
    extension_days: int
    reason: str
    joint_code: str
    part_no: int
    service_point: str
    def __init__(self, service_code: _Optional[str] = ..., item_code: _Optional[str] = ..., item_version: _Optional[int] = ..., item_name: _Optional[str] = ..., department_code: _Optional[str] = ..., department_name: _Optional[str] = ..., event: _Optional[str] = ..., status: _Optional[str] = ..., stage_index: _Optional[int] = ..., stage_kind: _Optional[str] = ..., stage_name: _Optional[str] = ..., occurred_at_ms: _Optional[int] = ..., recorded_at_ms: _Optional[int] = ..., backfilled: _Optional[bool] = ..., legal_deadline: _Optional[str] = ..., promised_deadline: _Optional[str] = ..., stage_deadline: _Optional[str] = ..., actor: _Optional[str] = ..., actor_role: _Optional[str] = ..., channel: _Optional[str] = ..., result: _Optional[str] = ..., applicant_id_hash: _Optional[str] = ..., applicant_name_masked: _Optional[str] = ..., applicant_id_masked: _Optional[str] = ..., material_digests: _Optional[_Iterable[str]] = ..., license: _Optional[_Union[License, _Mapping]] = ..., evaluation_score: _Optional[int] = ..., extension_days: _Optional[int] = ..., reason: _Optional[str] = ..., joint_code: _Optional[str] = ..., part_no: _Optional[int] = ..., service_point: _Optional[str] = ...) -> None: ...

class License(_message.Message):
    __slots__ = ("number", "name", "holder_hash", "holder_masked", "valid_from", "valid_until", "issuing_department", "status", "digest")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_HASH_FIELD_NUMBER: _ClassVar[int]
    HOLDER_MASKED_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ISSUING_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    number: str
    name: str
    holder_hash: str
    holder_masked: str
    valid_from: str
    valid_until: str
    issuing_department: str
    status: str
    digest: str
    def __init__(self, number: _Optional[str] = ..., name: _Optional[str] = ..., holder_hash: _Optional[str] = ..., holder_masked: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., issuing_department: _Optional[str] = ..., status: _Optional[str] = ..., digest: _Optional[str] = ...) -> None: ...

class RecordBody(_message.Message):
    __slots__ = ("origin", "seq", "prev_hash", "key_id", "created_at_ms", "case_event", "alert", "addressed")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CASE_EVENT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    ADDRESSED_FIELD_NUMBER: _ClassVar[int]
    origin: str
    seq: int
    prev_hash: bytes
    key_id: str
    created_at_ms: int
    case_event: CaseEvent
    alert: AlertEvent
    addressed: Addressed
    def __init__(self, origin: _Optional[str] = ..., seq: _Optional[int] = ..., prev_hash: _Optional[bytes] = ..., key_id: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., case_event: _Optional[_Union[CaseEvent, _Mapping]] = ..., alert: _Optional[_Union[AlertEvent, _Mapping]] = ..., addressed: _Optional[_Union[Addressed, _Mapping]] = ...) -> None: ...

class Addressed(_message.Message):
    __slots__ = ("to", "kind", "joint_code", "part", "header_json", "sealed", "reply_to_seq", "enc", "enc_key_id")
    TO_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOINT_CODE_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    HEADER_JSON_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    ENC_FIELD_NUMBER: _ClassVar[int]
    ENC_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    to: str
    kind: str
    joint_code: str
    part: int
    header_json: bytes
    sealed: bytes
    reply_to_seq: int
    enc: bytes
    enc_key_id: str
    def __init__(self, to: _Optional[str] = ..., kind: _Optional[str] = ..., joint_code: _Optional[str] = ..., part: _Optional[int] = ..., header_json: _Optional[bytes] = ..., sealed: _Optional[bytes] = ..., reply_to_seq: _Optional[int] = ..., enc: _Optional[bytes] = ..., enc_key_id: _Optional[str] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("kind", "origin", "subject", "detail", "proof_json", "peer", "state", "sightings", "first_seen_ms", "last_seen_ms", "state_by", "note", "raised_by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PROOF_JSON_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RAISED_BY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    origin: str
    subject: str
    detail: str
    proof_json: bytes
    peer: str
    state: str
    sightings: int
    first_seen_ms: int
    last_seen_ms: int
    state_by: str
    note: str
    raised_by: str
    def __init__(self, kind: _Optional[str] = ..., origin: _Optional[str] = ..., subject: _Optional[str] = ..., detail: _Optional[str] = ..., proof_json: _Optional[bytes] = ..., peer: _Optional[str] = ..., state: _Optional[str] = ..., sightings: _Optional[int] = ..., first_seen_ms: _Optional[int] = ..., last_seen_ms: _Optional[int] = ..., state_by: _Optional[str] = ..., note: _Optional[str] = ..., raised_by: _Optional[str] = ...) -> None: ...

class SignedRecord(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CheckpointBody(_message.Message):
    __slots__ = ("origin", "size", "head_hash", "created_at_ms", "key_id", "tree_root")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_ROOT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    size: int
    head_hash: bytes
    created_at_ms: int
    key_id: str
    tree_root: bytes
    def __init__(self, origin: _Optional[str] = ..., size: _Optional[int] = ..., head_hash: _Optional[bytes] = ..., created_at_ms: _Optional[int] = ..., key_id: _Optional[str] = ..., tree_root: _Optional[bytes] = ...) -> None: ...

class SignedCheckpoint(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class TreeCheckpoint(_message.Message):
    __slots__ = ("checkpoint", "proof_from", "consistency")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    PROOF_FROM_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    checkpoint: SignedCheckpoint
    proof_from: int
    consistency: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, checkpoint: _Optional[_Union[SignedCheckpoint, _Mapping]] = ..., proof_from: _Optional[int] = ..., consistency: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubtreeRef(_message.Message):
    __slots__ = ("level", "index")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    level: int
    index: int
    def __init__(self, level: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class SubtreeAsk(_message.Message):
    __slots__ = ("subtrees",)
    SUBTREES_FIELD_NUMBER: _ClassVar[int]
    subtrees: _containers.RepeatedCompositeFieldContainer[SubtreeRef]
    def __init__(self, subtrees: _Optional[_Iterable[_Union[SubtreeRef, _Mapping]]] = ...) -> None: ...

class SubtreeHashes(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LeafAsk(_message.Message):
    __slots__ = ("index", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class LeafProof(_message.Message):
    __slots__ = ("index", "body", "signature", "inclusion")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_FIELD_NUMBER: _ClassVar[int]
    index: int
    body: bytes
    signature: bytes
    inclusion: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., body: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., inclusion: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AuditMessage(_message.Message):
    __slots__ = ("checkpoint", "hashes", "leaf")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    checkpoint: TreeCheckpoint
    hashes: SubtreeHashes
    leaf: LeafProof
    def __init__(self, checkpoint: _Optional[_Union[TreeCheckpoint, _Mapping]] = ..., hashes: _Optional[_Union[SubtreeHashes, _Mapping]] = ..., leaf: _Optional[_Union[LeafProof, _Mapping]] = ...) -> None: ...

class AuditQuestion(_message.Message):
    __slots__ = ("need_proof_from", "subtrees", "leaf", "verdict")
    NEED_PROOF_FROM_FIELD_NUMBER: _ClassVar[int]
    SUBTREES_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    need_proof_from: int
    subtrees: SubtreeAsk
    leaf: LeafAsk
    verdict: CheckpointAck
    def __init__(self, need_proof_from: _Optional[int] = ..., subtrees: _Optional[_Union[SubtreeAsk, _Mapping]] = ..., leaf: _Optional[_Union[LeafAsk, _Mapping]] = ..., verdict: _Optional[_Union[CheckpointAck, _Mapping]] = ...) -> None: ...

class OriginCursor(_message.Message):
    __slots__ = ("origin", "seq", "head_hash")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    origin: str
    seq: int
    head_hash: bytes
    def __init__(self, origin: _Optional[str] = ..., seq: _Optional[int] = ..., head_hash: _Optional[bytes] = ...) -> None: ...

class PullAddressedRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: int
    limit: int
    def __init__(self, after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class DownRecord(_message.Message):
    __slots__ = ("id", "record")
    ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    id: int
    record: SignedRecord
    def __init__(self, id: _Optional[int] = ..., record: _Optional[_Union[SignedRecord, _Mapping]] = ...) -> None: ...

class CursorsRequest(_message.Message):
    __slots__ = ("sender",)
    SENDER_FIELD_NUMBER: _ClassVar[int]
    sender: str
    def __init__(self, sender: _Optional[str] = ...) -> None: ...

class CursorsReply(_message.Message):
    __slots__ = ("cursors",)
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    cursors: _containers.RepeatedCompositeFieldContainer[OriginCursor]
    def __init__(self, cursors: _Optional[_Iterable[_Union[OriginCursor, _Mapping]]] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("batch_id", "records")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    records: _containers.RepeatedCompositeFieldContainer[SignedRecord]
    def __init__(self, batch_id: _Optional[int] = ..., records: _Optional[_Iterable[_Union[SignedRecord, _Mapping]]] = ...) -> None: ...

class BatchAck(_message.Message):
    __slots__ = ("batch_id", "cursors", "applied", "duplicates")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    cursors: _containers.RepeatedCompositeFieldContainer[OriginCursor]
    applied: int
    duplicates: int
    def __init__(self, batch_id: _Optional[int] = ..., cursors: _Optional[_Iterable[_Union[OriginCursor, _Mapping]]] = ..., applied: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class CheckpointAck(_message.Message):
    __slots__ = ("accepted", "detail")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    detail: str
    def __init__(self, accepted: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class FetchRecordsRequest(_message.Message):
    __slots__ = ("origin", "from_seq", "to_seq")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    origin: str
    from_seq: int
    to_seq: int
    def __init__(self, origin: _Optional[str] = ..., from_seq: _Optional[int] = ..., to_seq: _Optional[int] = ...) -> None: ...

class FetchRecordsReply(_message.Message):
    __slots__ = ("records", "held_seq")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    HELD_SEQ_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[SignedRecord]
    held_seq: int
    def __init__(self, records: _Optional[_Iterable[_Union[SignedRecord, _Mapping]]] = ..., held_seq: _Optional[int] = ...) -> None: ...

class CaseDetailRequest(_message.Message):
    __slots__ = ("service_code", "requester_role", "requester", "purpose")
    SERVICE_CODE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ROLE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    service_code: str
    requester_role: str
    requester: str
    purpose: str
    def __init__(self, service_code: _Optional[str] = ..., requester_role: _Optional[str] = ..., requester: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class CaseDetailReply(_message.Message):
    __slots__ = ("detail_json", "owner")
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    detail_json: bytes
    owner: str
    def __init__(self, detail_json: _Optional[bytes] = ..., owner: _Optional[str] = ...) -> None: ...

class CatalogChangeBody(_message.Message):
    __slots__ = ("publisher", "seq", "change", "item_code", "name", "legal_limit_days", "kind", "level", "published_at_ms", "key_id", "note")
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_LIMIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    publisher: str
    seq: int
    change: str
    item_code: str
    name: str
    legal_limit_days: int
    kind: str
    level: str
    published_at_ms: int
    key_id: str
    note: str
    def __init__(self, publisher: _Optional[str] = ..., seq: _Optional[int] = ..., change: _Optional[str] = ..., item_code: _Optional[str] = ..., name: _Optional[str] = ..., legal_limit_days: _Optional[int] = ..., kind: _Optional[str] = ..., level: _Optional[str] = ..., published_at_ms: _Optional[int] = ..., key_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class SignedCatalogChange(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CatalogRequest(_message.Message):
    __slots__ = ("after_seq",)
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    def __init__(self, after_seq: _Optional[int] = ...) -> None: ...

class DirectoryRequest(_message.Message):
    __slots__ = ("known_version",)
    KNOWN_VERSION_FIELD_NUMBER: _ClassVar[int]
    known_version: int
    def __init__(self, known_version: _Optional[int] = ...) -> None: ...

class SignedDirectory(_message.Message):
    __slots__ = ("signed_json",)
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    signed_json: bytes
    def __init__(self, signed_json: _Optional[bytes] = ...) -> None: ...

class VerifyResultRequest(_message.Message):
    __slots__ = ("kind", "number", "holder_hash", "item_code", "on", "asked_by", "hops")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOLDER_HASH_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    ASKED_BY_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    number: str
    holder_hash: str
    item_code: str
    on: str
    asked_by: str
    hops: int
    def __init__(self, kind: _Optional[str] = ..., number: _Optional[str] = ..., holder_hash: _Optional[str] = ..., item_code: _Optional[str] = ..., on: _Optional[str] = ..., asked_by: _Optional[str] = ..., hops: _Optional[int] = ...) -> None: ...

class VerifyResultReply(_message.Message):
    __slots__ = ("valid", "reason", "answered_by", "item_code", "name", "valid_from", "valid_until")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: str
    answered_by: str
    item_code: str
    name: str
    valid_from: str
    valid_until: str
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[str] = ..., answered_by: _Optional[str] = ..., item_code: _Optional[str] = ..., name: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ...) -> None: ...

class FetchMaterialRequest(_message.Message):
    __slots__ = ("joint_code", "part", "digest", "requester", "purpose")
    JOINT_CODE_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    joint_code: str
    part: int
    digest: str
    requester: str
    purpose: str
    def __init__(self, joint_code: _Optional[str] = ..., part: _Optional[int] = ..., digest: _Optional[str] = ..., requester: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class FetchMaterialChunk(_message.Message):
    __slots__ = ("data", "digest", "filename", "file_type", "size", "material_code")
    DATA_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FILE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_CODE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    digest: str
    filename: str
    file_type: str
    size: int
    material_code: str
    def __init__(self, data: _Optional[bytes] = ..., digest: _Optional[str] = ..., filename: _Optional[str] = ..., file_type: _Optional[str] = ..., size: _Optional[int] = ..., material_code: _Optional[str] = ...) -> None: ...
