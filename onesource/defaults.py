"""Defaults of the ``ONESOURCE_*`` settings that hot paths read without pydantic-settings.

``onesource.settings.Settings`` uses these; DAG files (parsed again and again by
Airflow's DAG processor) read the environment against them directly.
"""

HOME = "var"  # ONESOURCE_HOME: warehouse, metadata DB, caches, demo sources
CATALOG = "catalog"  # ONESOURCE_CATALOG: the folder holding departments.yaml
