"""Operating a deployment: backups, restores and health checks (``onesource backup``,
``restore``, ``doctor``).  See docs/operators.md."""
