"""Demo data for `make up`: tag groups and tags, two automatic rules and two segments."""

from sqlalchemy import func, select

from crm.common.v1 import common_pb2
from services.common.db import Database
from services.common.identity import Caller
from services.tagging import rules, segments, service
from services.tagging.models import Tag

SEEDER = Caller(id="system:demo", kind="service", roles=("admin",), scope="all")
TAGS = [
    ("高价值", "价值", "#f5222d", "年成交额高的重点客户", False),
    ("潜力客户", "价值", "#fa8c16", "有增长空间的客户", False),
    ("高流失风险", "风险", "#cf1322", "A/B 类客户 90 天无互动（规则自动打标）", True),
    ("投诉客户", "风险", "#722ed1", "近期有投诉", False),
    ("新产品潜在客户", "兴趣", "#13c2c2", "30 天内多次浏览新产品页面（规则自动打标）", True),
    ("展会线索", "兴趣", "#2f54eb", "来自展会的线索", False),
]


def _field(name: str, **test: object) -> common_pb2.Condition:
    return common_pb2.Condition(field=common_pb2.FieldTest(field=name, **test))  # type: ignore[arg-type]


def seed(db: Database) -> None:
    """Create the demo tags, rules and segments unless tags exist already."""
    with db.session_scope() as session:
        if session.scalar(select(func.count()).select_from(Tag)):
            return
        made = {}
        for name, group, color, description, system in TAGS:
            made[name] = service.create_tag(
                session=session,
                caller=SEEDER,
                data={
                    "name": name,
                    "group": group,
                    "color": color,
                    "description": description,
                    "system": system,
                },
            )
        churn = common_pb2.Condition(
            all=common_pb2.ConditionList(
                conditions=[
                    _field("tier", any_of=common_pb2.Values(values=["A", "B"])),
                    common_pb2.Condition(
                        behavior=common_pb2.BehaviorTest(
                            source="interactions", days=90, range=common_pb2.Range(lte="0")
                        )
                    ),
                ]
            )
        )
        interest = common_pb2.Condition(
            behavior=common_pb2.BehaviorTest(
                source="interactions",
                days=30,
                channels=["web"],
                summary_contains="新产品",
                range=common_pb2.Range(gte="3"),
            )
        )
        for name, tag, cond in (
            ("A/B 类 90 天无互动", "高流失风险", churn),
            ("30 天浏览新产品 3 次", "新产品潜在客户", interest),
        ):
            rules.create_rule(
                session=session,
                caller=SEEDER,
                data={
                    "name": name,
                    "tag_id": made[tag].id,
                    "condition": cond,
                    "enabled": True,
                    "description": "",
                },
            )
        valuable = common_pb2.Condition(
            all=common_pb2.ConditionList(
                conditions=[
                    _field("tier", any_of=common_pb2.Values(values=["A"])),
                    _field("deal_amount_12m", range=common_pb2.Range(gte="100000")),
                    common_pb2.Condition(
                        behavior=common_pb2.BehaviorTest(
                            source="interactions", days=90, range=common_pb2.Range(lte="0")
                        )
                    ),
                ]
            )
        )
        segments.create(
            session=session,
            caller=SEEDER,
            data={
                "name": "A 类高额但 3 个月无互动",
                "description": "A 类、近 12 个月成交额 ≥ 10 万、90 天无互动",
                "kind": "dynamic",
                "condition": valuable,
            },
        )
        segments.create(
            session=session,
            caller=SEEDER,
            data={
                "name": "制造业潜在客户",
                "description": "制造业（C 门类）且状态为潜在客户",
                "kind": "dynamic",
                "condition": common_pb2.Condition(
                    all=common_pb2.ConditionList(
                        conditions=[
                            _field("industry_code", any_of=common_pb2.Values(values=["C"])),
                            _field("status", any_of=common_pb2.Values(values=["potential"])),
                        ]
                    )
                ),
            },
        )
