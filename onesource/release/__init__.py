"""Open-data releases: build (de-identify + leak gate), publish atomically, verify."""
