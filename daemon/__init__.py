"""newsd: a streaming news-ingestion daemon."""

__version__ = "0.1.0"
