"""The hub's DAG loader files, installed with the package.

``FOLDER`` is where they live, in a checkout and in site-packages alike, so a
``DAGS_FOLDER`` pointed at it always finds them.  (This file's text must not name
the scheduler: its DAG processor then skips it instead of parsing it for nothing.)
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
