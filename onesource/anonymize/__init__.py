"""De-identification engine: pure functions over Arrow tables.

Public entry points (each module holds one concept):

- :func:`onesource.anonymize.anonymize.anonymize` applies a whole spec;
- :mod:`.hierarchy` generalization hierarchies; :mod:`.kanon` k-anonymity
  and l-diversity by optimal lattice search (:mod:`.lattice`);
- :mod:`.pseudonym` keyed pseudonyms and release keys; :mod:`.mask` display
  masks for list notices; :mod:`.aggregate` statistical tables with
  audited cell suppression (:mod:`.cellaudit`, :mod:`.complement`,
  :mod:`.dominance`, :mod:`.lpsolve`);
- :mod:`.leakgate` the pre-publication scan; :mod:`.risk` the risk report.
"""

from onesource.anonymize.anonymize import (
    AnonymizationSpec,
    AnonymizationSpecError,
    ColumnRule,
    anonymize,
    validate_spec,
)
from onesource.anonymize.kanon import (
    AnonymizationInfeasibleError,
    KAnonymityResult,
    QuasiIdentifier,
    k_anonymize,
)

__all__ = [
    "AnonymizationInfeasibleError",
    "AnonymizationSpec",
    "AnonymizationSpecError",
    "ColumnRule",
    "KAnonymityResult",
    "QuasiIdentifier",
    "anonymize",
    "k_anonymize",
    "validate_spec",
]
