"""Population worklists at scale: reading, grouping and parallelising patients (local, DuckDB,
Spark engines), their Arrow/Parquet form and the finaliser. The clinical logic they call is the
per-patient function of :mod:`myositis_cds.services.population`."""

__all__: list[str] = []
