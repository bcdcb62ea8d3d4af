"""Re-identification risk report of a released microdata table.

Technique labels follow GB/T 37964-2019 (个人信息去标识化指南) and ISO/IEC
20889:2018; :data:`TECHNIQUES` is the one place that maps technique codes
to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

TECHNIQUES: dict[str, str] = {
    "drop": "删除 / suppression (attribute)",
    "pseudonymize": "假名化 / pseudonymization (keyed cryptographic hash)",
    "mask": "屏蔽 / masking",
    "generalize": "泛化 / generalization",
    "top_bottom_code": "顶端/底端编码 / top-and-bottom coding",
    "keep": "保留 / no transformation",
    "aggregate": "聚合 / aggregation",
    "k_anonymity": "k-匿名 / k-anonymity",
    "record_suppression": "抑制 / record suppression",
    "l_diversity": "l-多样性 / l-diversity",
}


NOT_APPLICABLE = "not applicable"


def technique_label(code: str) -> str:
    """The GB/T 37964 / ISO/IEC 20889 label of a technique code."""
    if code not in TECHNIQUES:
        raise KeyError(f"unknown technique {code!r}; known: {', '.join(TECHNIQUES)}")
    return TECHNIQUES[code]


def class_sizes(table: pa.Table, quasi_identifiers: Sequence[str]) -> pa.Table:
    """One row per equivalence class: the QI values and ``size``."""
    if not quasi_identifiers:
        return pa.table({"size": pa.array([table.num_rows], pa.int64())})
    g = table.group_by(list(quasi_identifiers), use_threads=False).aggregate([([], "count_all")])
    return g.rename_columns([*quasi_identifiers, "size"])


def risk_report(
    table: pa.Table,
    *,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] = (),
    k: int | None = None,
    l_div: int | None = None,
    techniques: Mapping[str, str] | None = None,
    suppressed: int = 0,
    input_rows: int | None = None,
    levels: Mapping[str, int] | None = None,
    level_labels: Mapping[str, str] | None = None,
    information_loss: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The risk report published with a release (a JSON-ready dict).

    ``k reached`` is the smallest class size; the prosecutor risk of a
    record is 1 / its class size (max and record-average given); ``sample
    uniques`` counts records alone in their class; ``l reached`` is, per
    sensitive column, the fewest distinct non-null values in a class.
    Without quasi-identifiers there are no equivalence classes: the class
    figures are the string ``"not applicable"``, never the row count.
    ``levels`` are published as ``{column: {"level": n, "label": ...}}``.
    """
    import numpy as np
    import pyarrow.compute as pc

    n = table.num_rows
    report: dict[str, object] = {
        "records": n,
        "input_records": input_rows if input_rows is not None else n + suppressed,
        "records_suppressed": suppressed,
        "quasi_identifiers": list(quasi_identifiers),
        "sensitive_attributes": list(sensitive),
        "k_target": k,
        "l_target": l_div,
    }
    if not quasi_identifiers:
        na = NOT_APPLICABLE
        report |= {
            "equivalence_classes": na,
            "k_reached": na,
            "records_in_classes_below_k": na,
            "share_below_k": na,
            "sample_uniques": na,
            "max_prosecutor_risk": na,
            "avg_prosecutor_risk": na,
        }
    else:
        sizes = (
            class_sizes(table, quasi_identifiers).column("size").to_numpy() if n else np.array([])
        )
        report |= {
            "equivalence_classes": len(sizes),
            "k_reached": int(sizes.min()) if len(sizes) else None,
            "records_in_classes_below_k": int(sizes[sizes < k].sum()) if k and len(sizes) else 0,
            "share_below_k": float(sizes[sizes < k].sum() / n) if k and n else 0.0,
            "sample_uniques": int((sizes == 1).sum()) if len(sizes) else 0,
            "max_prosecutor_risk": float(1.0 / sizes.min()) if len(sizes) else 0.0,
            "avg_prosecutor_risk": float(len(sizes) / n) if n else 0.0,
        }
    l_reached: dict[str, int | None] = {}
    for s in sensitive:
        if not n:
            l_reached[s] = None
            continue
        keys = list(quasi_identifiers)
        if keys:
            g = table.group_by(keys, use_threads=False).aggregate([(s, "count_distinct")])
            l_reached[s] = int(pc.min(g.column(f"{s}_count_distinct")).as_py())
        else:
            l_reached[s] = int(pc.count_distinct(table.column(s)).as_py())
    report["l_reached"] = l_reached
    if levels is not None:
        labels = level_labels or {}
        report["generalization_levels"] = {
            col: {"level": int(lv), "label": labels.get(col, f"level {lv}")}
            for col, lv in levels.items()
        }
    if information_loss is not None:
        report["information_loss"] = dict(information_loss)
    if techniques is not None:
        report["techniques"] = {
            col: {"code": code, "label": technique_label(code)} for col, code in techniques.items()
        }
    applied = []
    if k and quasi_identifiers:
        applied.append("k_anonymity")
    if suppressed:
        applied.append("record_suppression")
    if l_div:
        applied.append("l_diversity")
    report["models"] = {code: technique_label(code) for code in applied}
    return report
