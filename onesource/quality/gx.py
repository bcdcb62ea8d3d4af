"""The resource's checks as a Great Expectations suite, and running it.

Core expectations cover not-null, unique, regex, value sets, ranges and
lengths; the domain checks are custom ``ColumnMapExpectation``s whose
conditions reuse the vectorized validators.  This is the only module that
imports ``great_expectations`` (about 3 s and 260 MB), so it is imported
lazily: the batch engine uses the same checks directly over Arrow, which is
what keeps quality within 2x of raw pyarrow (see bench/RESULTS.md).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa

from onesource.quality.checks import Check, compile_checks
from schemas.catalog import Catalog
from schemas.resource import Resource

DOMAIN_EXPECTATIONS = {
    "id_number": "expect_column_values_to_be_valid_id_number",
    "credit_code": "expect_column_values_to_be_valid_credit_code",
    "mobile": "expect_column_values_to_be_valid_mobile",
    "division_code": "expect_column_values_to_be_valid_division_code",
}


@functools.cache
def _custom() -> dict[str, type]:
    """Define and register the custom expectations once per process."""
    import pandas as pd
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.metrics import (
        ColumnMapMetricProvider,
        column_condition_partial,
    )

    from onesource.quality import domain

    def arrow(column: pd.Series) -> pa.Array:
        return pa.array(column.astype(object).where(column.notna(), None), pa.string())

    class ColumnValuesValidIdNumber(ColumnMapMetricProvider):
        condition_metric_name = "column_values.onesource_valid_id_number"
        condition_value_keys = ("divisions",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(
            cls, column: pd.Series, divisions: list[str] | None = None, **kwargs: Any
        ) -> pd.Series:
            return pd.Series(
                domain.id_number_valid(arrow(column), divisions or None), index=column.index
            )

    class ColumnValuesValidCreditCode(ColumnMapMetricProvider):
        condition_metric_name = "column_values.onesource_valid_credit_code"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return pd.Series(domain.credit_code_valid(arrow(column)), index=column.index)

    class ColumnValuesValidMobile(ColumnMapMetricProvider):
        condition_metric_name = "column_values.onesource_valid_mobile"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return pd.Series(domain.mobile_valid(arrow(column)), index=column.index)

    class ColumnValuesValidDivision(ColumnMapMetricProvider):
        condition_metric_name = "column_values.onesource_valid_division_code"
        condition_value_keys = ("divisions",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(
            cls, column: pd.Series, divisions: list[str] | None = None, **kwargs: Any
        ) -> pd.Series:
            return pd.Series(
                domain.division_valid(arrow(column), divisions or []), index=column.index
            )

    class ExpectColumnValuesToBeValidIdNumber(ColumnMapExpectation):
        """Citizen ID number (GB 11643): check digit, a real birth date, a known division."""

        divisions: list[str] | None = None
        map_metric = "column_values.onesource_valid_id_number"
        success_keys = ("mostly", "divisions")

    class ExpectColumnValuesToBeValidCreditCode(ColumnMapExpectation):
        """Unified social credit code (GB 32100) with its check character."""

        map_metric = "column_values.onesource_valid_credit_code"
        success_keys = ("mostly",)

    class ExpectColumnValuesToBeValidMobile(ColumnMapExpectation):
        """Mainland mobile number: 1[3-9] and nine digits."""

        map_metric = "column_values.onesource_valid_mobile"
        success_keys = ("mostly",)

    class ExpectColumnValuesToBeValidDivisionCode(ColumnMapExpectation):
        """A division code (GB/T 2260) present in the catalog's divisions code list."""

        divisions: list[str] | None = None
        map_metric = "column_values.onesource_valid_division_code"
        success_keys = ("mostly", "divisions")

    _ = (
        ColumnValuesValidIdNumber,
        ColumnValuesValidCreditCode,
        ColumnValuesValidMobile,
        ColumnValuesValidDivision,
    )
    return {
        "id_number": ExpectColumnValuesToBeValidIdNumber,
        "credit_code": ExpectColumnValuesToBeValidCreditCode,
        "mobile": ExpectColumnValuesToBeValidMobile,
        "division_code": ExpectColumnValuesToBeValidDivisionCode,
    }


def _expectation(c: Check) -> Any:
    import great_expectations.expectations as gxe

    meta = {"check_id": c.id, "severity": c.severity.value, "description": c.description}
    col = c.field
    if c.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
    if c.kind == "unique":
        if len(c.fields) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=col, meta=meta)
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=c.fields, meta=meta)
    if c.kind == "pattern":
        return gxe.ExpectColumnValuesToMatchRegex(column=col, regex=c.params["pattern"], meta=meta)
    if c.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(
            column=col, value_set=[str(v) for v in c.params["values"]], meta=meta
        )
    if c.kind == "range":
        lo, hi = c.params.get("min"), c.params.get("max")
        return gxe.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, meta=meta)
    if c.kind == "length":
        return gxe.ExpectColumnValueLengthsToBeBetween(
            column=col, min_value=c.params.get("min"), max_value=c.params.get("max"), meta=meta
        )
    cls = _custom()[c.params["domain"]]
    kwargs: dict[str, Any] = {"column": col, "meta": meta}
    if c.params["domain"] in ("id_number", "division_code"):
        kwargs["divisions"] = c.params.get("divisions") or None
    return cls(**kwargs)


def build_suite(catalog: Catalog, res: Resource, checks: list[Check] | None = None) -> Any:
    """A ``great_expectations`` ExpectationSuite equivalent to the resource's checks."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"onesource.{res.name}")
    for c in checks or compile_checks(catalog, res):
        suite.add_expectation(_expectation(c))
    return suite


def failures_with_gx(
    catalog: Catalog, res: Resource, checks: list[Check], table: pa.Table
) -> dict[str, np.ndarray]:
    """Run the suite once over the batch with GX's pandas engine; check id -> failing rows mask."""
    import great_expectations as gx
    import pandas as pd

    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    # GX's regex and set expectations want plain objects for strings and dates
    for name in df.columns:
        if not (pd.api.types.is_numeric_dtype(df[name]) or pd.api.types.is_bool_dtype(df[name])):
            df[name] = df[name].astype(object).where(df[name].notna(), None)
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas(f"onesource_{res.name}")
    asset = source.add_dataframe_asset(res.name)
    batch = asset.add_batch_definition_whole_dataframe("batch").get_batch(
        batch_parameters={"dataframe": df}
    )
    suite = build_suite(catalog, res, checks)
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    masks = {c.id: np.zeros(table.num_rows, bool) for c in checks}
    for r in result.results:
        check_id = r.expectation_config.meta["check_id"]
        idx = r.result.get("unexpected_index_list") or []
        rows = [int(i) if not isinstance(i, dict) else int(next(iter(i.values()))) for i in idx]
        if rows:
            masks[check_id][np.asarray(rows, dtype=np.int64)] = True
    for c in checks:
        if c.kind == "unique" and masks[c.id].any():
            # GX flags every occurrence of a duplicated key; the hub keeps the first one
            flagged = df.loc[masks[c.id], c.fields]
            first = ~flagged.duplicated(keep="first").to_numpy()
            masks[c.id][np.flatnonzero(masks[c.id])[first]] = False
    return masks
