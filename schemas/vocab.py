"""Controlled vocabularies of the national catalogue guide, with Chinese labels.

Codes are what stewards write in YAML; labels are what the portal shows.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class Labelled(StrEnum):
    """A code with a Chinese label (``label``) and an English one (``label_en``)."""

    label: str
    label_en: str

    def __new__(cls, code: str, label: str, label_en: str) -> Labelled:
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.label = label
        obj.label_en = label_en
        return obj


class ShareClass(Labelled):
    unconditional = ("unconditional", "无条件共享", "unconditional sharing")
    conditional = ("conditional", "有条件共享", "conditional sharing")
    none = ("none", "不予共享", "not shared")

    @property
    def rank(self) -> int:
        """Higher is more open."""
        return {"none": 0, "conditional": 1, "unconditional": 2}[self.value]


class OpenClass(Labelled):
    open = ("open", "无条件开放", "open")
    restricted = ("restricted", "有条件开放", "restricted (registered users, agreed terms)")
    closed = ("closed", "不予开放", "closed")

    @property
    def rank(self) -> int:
        return {"closed": 0, "restricted": 1, "open": 2}[self.value]


class ShareMethod(Labelled):
    api = ("api", "接口调用", "API")
    download = ("download", "文件下载", "file download")
    exchange = ("exchange", "库表交换", "database exchange")
    verify = ("verify", "核验", "verification only")


class UpdateCycle(Labelled):
    realtime = ("realtime", "实时", "realtime")
    daily = ("daily", "每日", "daily")
    weekly = ("weekly", "每周", "weekly")
    monthly = ("monthly", "每月", "monthly")
    quarterly = ("quarterly", "每季度", "quarterly")
    half_yearly = ("half_yearly", "每半年", "half-yearly")
    yearly = ("yearly", "每年", "yearly")
    irregular = ("irregular", "不定期", "irregular")

    @property
    def max_age_days(self) -> float | None:
        """How old the newest data may get before it counts as stale."""
        return {
            "realtime": 1 / 24,
            "daily": 1,
            "weekly": 7,
            "monthly": 31,
            "quarterly": 92,
            "half_yearly": 183,
            "yearly": 366,
            "irregular": None,
        }[self.value]

    @property
    def cron(self) -> str | None:
        """Airflow schedule for an ingest DAG of this cycle."""
        return {
            "realtime": "*/15 * * * *",
            "daily": "@daily",
            "weekly": "@weekly",
            "monthly": "@monthly",
            "quarterly": "0 0 1 1,4,7,10 *",
            "half_yearly": "0 0 1 1,7 *",
            "yearly": "@yearly",
            "irregular": None,
        }[self.value]

    @property
    def dcat(self) -> str:
        """EU frequency vocabulary URI suffix for dct:accrualPeriodicity."""
        return {
            "realtime": "UPDATE_CONT",
            "daily": "DAILY",
            "weekly": "WEEKLY",
            "monthly": "MONTHLY",
            "quarterly": "QUARTERLY",
            "half_yearly": "ANNUAL_2",
            "yearly": "ANNUAL",
            "irregular": "IRREG",
        }[self.value]


class FormatCategory(Labelled):
    electronic_file = ("electronic_file", "电子文件", "electronic file")
    spreadsheet = ("spreadsheet", "电子表格", "spreadsheet")
    database = ("database", "数据库", "database")
    image = ("image", "图形图像", "graphics and images")
    streaming = ("streaming", "流媒体", "streaming media")
    self_describing = ("self_describing", "自描述格式", "self-describing format")
    service = ("service", "服务接口", "service interface")
    other = ("other", "其他", "other")


class ResourceCategory(Labelled):
    base = ("base", "基础信息资源", "base")
    theme = ("theme", "主题信息资源", "theme")
    department = ("department", "部门信息资源", "department")


class BaseSubject(Labelled):
    population = ("population", "人口", "population")
    legal_entity = ("legal_entity", "法人", "legal entities")
    geospatial = ("geospatial", "自然资源和空间地理", "natural resources and geospatial")
    credit = ("credit", "社会信用", "social credit")
    e_licence = ("e_licence", "电子证照", "electronic licences")


class PiiClass(Labelled):
    direct = ("direct", "直接标识符", "direct identifier")
    quasi = ("quasi", "准标识符", "quasi-identifier")
    sensitive = ("sensitive", "敏感属性", "sensitive attribute")
    none = ("none", "非个人信息", "not personal")


class Severity(Labelled):
    blocking = ("blocking", "阻断", "blocking")
    warning = ("warning", "警告", "warning")


class Domain(Labelled):
    """Domain checks with their own validators (check digits, code lists)."""

    id_number = ("id_number", "公民身份号码", "citizen ID number (GB 11643)")
    credit_code = ("credit_code", "统一社会信用代码", "unified social credit code (GB 32100)")
    mobile = ("mobile", "手机号码", "mobile number")
    division_code = ("division_code", "行政区划代码", "division code (GB/T 2260)")


class DataType(Labelled):
    """Data item types of the catalogue guide and their Arrow types."""

    C = ("C", "字符型", "string")
    N = ("N", "数值型", "decimal number")
    Y = ("Y", "货币型", "money")
    D = ("D", "日期型", "date")
    T = ("T", "日期时间型", "datetime")
    L = ("L", "逻辑型", "boolean")
    M = ("M", "备注型", "long text")
    B = ("B", "双精度型", "double")
    I = ("I", "整数型", "integer")  # noqa: E741 - the guide's own letter
    F = ("F", "浮点型", "float")
    G = ("G", "通用型", "binary")

    def arrow(self, precision: int | None = None, scale: int | None = None) -> pa.DataType:
        """The Arrow type that pins this item in landed data."""
        if self in (DataType.N, DataType.Y):
            return pa.decimal128(
                precision or (18 if self is DataType.Y else 20), scale if scale is not None else 2
            )
        return _ARROW[self.value]


_ARROW: dict[str, pa.DataType] = {
    "C": pa.string(),
    "M": pa.string(),
    "D": pa.date32(),
    "T": pa.timestamp("us"),
    "L": pa.bool_(),
    "B": pa.float64(),
    "I": pa.int64(),
    "F": pa.float32(),
    "G": pa.binary(),
}


class Technique(Labelled):
    """De-identification techniques, labelled in GB/T 37964 / ISO/IEC 20889 terms."""

    keep = ("keep", "保留", "no transformation")
    drop = ("drop", "删除", "attribute suppression")
    pseudonymize = ("pseudonymize", "假名化", "pseudonymization (keyed cryptographic hash)")
    mask = ("mask", "屏蔽", "masking")
    generalize = ("generalize", "泛化", "generalization")
    top_bottom_code = ("top_bottom_code", "顶端/底端编码", "top and bottom coding")

    @property
    def removes_identity(self) -> bool:
        return self in (Technique.drop, Technique.pseudonymize)


class ReleaseKind(Labelled):
    microdata = ("microdata", "个体数据", "microdata")
    aggregate = ("aggregate", "统计数据", "aggregate statistics")
    list_notice = ("list_notice", "公示名单", "list notice")
