"""Generate a large synthetic catalog (N resources x F fields) for benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def generate(dest: Path, resources: int = 2000, fields: int = 20, departments: int = 40) -> Path:
    """Copy the demo departments/codes and add generated elements and resources."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "elements").mkdir(parents=True)
    shutil.copytree(REPO / "catalog" / "codes", dest / "codes")
    depts = yaml.safe_load((REPO / "catalog" / "departments.yaml").read_text(encoding="utf-8"))[
        "departments"
    ]
    base = depts[0]
    gen_depts = []
    for d in range(departments):
        entry = dict(base, code=f"dept{d:03d}", name=f"部门{d:03d}", name_en=f"Department {d}")
        gen_depts.append(entry)
    (dest / "departments.yaml").write_text(
        yaml.safe_dump({"departments": gen_depts}, allow_unicode=True), encoding="utf-8"
    )
    for r in range(resources):
        dept = f"dept{r % departments:03d}"
        elements = [
            {
                "id": f"gen{r:05d}.item{f:02d}",
                "name": f"信息项{f}",
                "name_en": f"Item {f}",
                "type": "C" if f % 3 else "I",
                "pii": "none",
                "source": dept,
                "description": f"生成的信息项 {r}/{f}",
            }
            for f in range(fields)
        ]
        (dest / "elements" / f"gen{r:05d}.yaml").write_text(
            yaml.safe_dump({"elements": elements}, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        doc = {
            "name": f"res{r:05d}",
            "title": f"资源{r}",
            "title_en": f"Resource {r}",
            "provider": dept,
            "classification": {"category": "department", "subject": "generated", "code": "399"},
            "code": f"399/{r + 1:06d}",
            "summary": "生成的基准测试资源",
            "keywords": ["基准"],
            "format_category": "database",
            "format": "table",
            "update_cycle": "daily",
            "issued": "2024-01-01",
            "share_class": "unconditional",
            "share_method": "api",
            "open_class": "closed",
            "connector": {"type": "sql", "connection": "bench_db", "table": f"t{r}"},
            "primary_key": ["f00"],
            "fields": {
                f"f{f:02d}": {"element": f"gen{r:05d}.item{f:02d}", "required": f == 0}
                for f in range(fields)
            },
            "source_of": [f"gen{r:05d}.item{f:02d}" for f in range(fields)],
            "quality": {"rules": [{"check": "not_null", "field": "f01"}]},
        }
        folder = dest / "resources" / dept
        folder.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).replace(
            "'2024-01-01'", "2024-01-01"
        )
        (folder / f"res{r:05d}.yaml").write_text(text, encoding="utf-8")
    return dest
