"""The catalog's pydantic models and cross-file rules (no I/O, no heavy imports)."""

# the distribution this package belongs to: onesource checks it (docs/adr/0004-top-level-packages.md)
__distribution__ = "onesource-hub"
