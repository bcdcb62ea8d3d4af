"""Quality: checks compiled from the catalog, quarantine, reports, consistency, scorecards.

``check_batch`` runs every check once over a batch (vectorized over Arrow);
``onesource.quality.gx`` builds the same checks as a Great Expectations suite
with custom expectations for the domain checks, and can run it instead
(``engine="gx"``).  ``great_expectations`` is imported only there.
"""

from onesource.quality.consistency import ConsistencyReport, compare_copies
from onesource.quality.engine import QualityOutcome, check_batch
from onesource.quality.report import QualityReport, render_html

__all__ = [
    "ConsistencyReport",
    "QualityOutcome",
    "QualityReport",
    "check_batch",
    "compare_copies",
    "render_html",
]
