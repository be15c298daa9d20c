"""Map layers and aggregation: pure functions from a DuckDB connection or frames to frames and folium objects."""
