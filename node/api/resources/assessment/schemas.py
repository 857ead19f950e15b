from marshmallow import Schema, fields


class AssessmentRowSchema(Schema):
    rank = fields.Integer(metadata={"description": "position in the ranking (1-based)"})
    code = fields.String(metadata={"description": "department code, node id or city code (by level)"})
    name = fields.String(metadata={"description": "department name (level=department), else empty"})
    received = fields.Integer(metadata={"description": "受理数: cases accepted in the month"})
    concluded = fields.Integer(metadata={"description": "办结数: cases concluded in the month"})
    completion_rate = fields.Float(allow_none=True, metadata={"description": "办结率 = concluded / received"})
    early_rate = fields.Float(allow_none=True, metadata={"description": "提前办结率"})
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "按时办结率"})
    speedup = fields.Float(allow_none=True, metadata={"description": "平均提速"})
    overdue = fields.Integer(metadata={"description": "超期数"})
    satisfaction = fields.Float(allow_none=True, metadata={"description": "好评率: share of scores 4-5"})
    avg_score = fields.Float(allow_none=True, metadata={"description": "平均评分"})
    evaluated = fields.Integer(metadata={"description": "评价数"})
    complaints = fields.Integer(metadata={"description": "投诉数"})
    items_handled = fields.Integer(metadata={
        "description": "办件事项数: catalog items that received at least one case accepted in the month "
                       "(summed per (origin, department))"})
    items_online = fields.Integer(metadata={
        "description": "网办事项数: of those, the items that received at least one such case online"})
    online_item_rate = fields.Float(allow_none=True, metadata={
        "description": "事项纳入率 = items_online / items_handled (null without items; not in the score)"})
    score = fields.Float(metadata={"description": "综合得分 (0-100)"})


class AssessmentSchema(Schema):
    month = fields.String()
    level = fields.String()
    by = fields.String()
    items = fields.List(fields.Nested(AssessmentRowSchema))
