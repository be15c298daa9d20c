"""The store's contract: the DuckDB schema, atomic publishing, rollups, the time window and user-facing errors."""
