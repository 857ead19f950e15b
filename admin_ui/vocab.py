"""The words every page uses for the node's states (one table per thing, so the desk, the window,
the inspector and the hall admin call a red light, a stage or an alert the same)."""
from __future__ import annotations

from node.domain.divisions import level_of

LIGHT_ZH = {"green": "正常", "yellow": "预警", "red": "超期", "on_time": "按时办结", "late": "超时办结"}
STAGE_ZH = {"accept": "受理", "undertake": "承办", "review": "审核", "approve": "批准", "conclude": "办结",
            "joint_review": "联合审图", "joint_inspection": "联合踏勘", "": "（无环节）"}
CHANNEL_ZH = {"online": "网上申报", "window": "窗口收件", "agent": "代办"}
ALERT_STATE_ZH = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}
ALERT_KIND_ZH = {"fork": "签名日志分叉", "damaged_log": "本地日志损坏", "bad_signature": "签名无效",
                 "broken_chain": "哈希链断裂", "inconsistent_checkpoint": "检查点不一致", "foreign_case": "越权上报他节点办件",
                 "wrong_origin": "来源不符", "unknown_key": "未知签名密钥", "audit_mismatch": "审计记录与数据不符",
                 "case_file_mismatch": "办件档案与签名记录不符", "material_mismatch": "材料摘要不符",
                 "parent_too_old": "上级节点版本过旧"}
EVENT_ZH = {"submit": "提交申请", "accept": "受理", "refuse": "不予受理", "undertake": "承办", "review": "审核",
            "approve": "批准", "conclude": "办结", "deny": "不予许可", "send_back": "退回", "withdraw": "撤回",
            "request_supplement": "要求补正", "supply": "补正材料", "record_paper_result": "录入纸质办理结果",
            "conclude_joint": "统一出件", "sign_off": "会签"}
LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县（区）级"}


def level_zh(node_id: str) -> str:
    """A node's level as the public reads it (``330100`` → 市级)."""
    try:
        return LEVEL_ZH[level_of(node_id)]
    except (KeyError, ValueError):
        return node_id
