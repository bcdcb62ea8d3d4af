"""The departments' side of the hub: source adapters that yield Arrow record batches.

Sources are looked up by the catalog's connector ``type`` through
``connectors.registry.get_source``; every source returns an
``connectors.base.Extraction`` whose batches match the resource's pinned schema.
"""

# the distribution this package belongs to: onesource checks it (docs/adr/0004-top-level-packages.md)
__distribution__ = "onesource-hub"
