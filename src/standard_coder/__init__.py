"""Standard Coder: resumable, cache-aware ML pipelines and the Standard Coder effort model."""

__version__ = "0.1.0"
