"""Orchestration: the Airflow DAGs the catalog asks for, and how to run them.

``plan`` (the DAGs as plain data) and ``tasks`` (what each task does) know
nothing of Airflow; only the ``airflow_*`` modules import it.
"""
