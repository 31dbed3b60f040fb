"""SOC log ingestion and alerting engine: the core (event model, pipeline, stores,
alerts, API, CLI)."""

__version__ = "0.1.0"
