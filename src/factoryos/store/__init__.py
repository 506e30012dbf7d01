"""Storage: time series (embedded DuckDB), the last-value cache, ingest, and the catalog.

Import from the modules (``factoryos.store.duckdb_store`` …) so that using one backend does
not load the others' libraries.
"""
