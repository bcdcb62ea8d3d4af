"""Pipeline steps as plain functions over Arrow data and the store.

Each step runs without Airflow (``onesource run ...``); Airflow only schedules
and retries them.
"""
