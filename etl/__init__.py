"""ETL: department files in, canonical rows into DuckDB; owns the database schema."""
