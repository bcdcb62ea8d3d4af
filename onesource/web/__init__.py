"""The web app: exchange API for departments and the open-data portal (FastAPI)."""
