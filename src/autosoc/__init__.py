"""autosoc: an autonomous security operations center engine."""

__version__ = "0.1.0"

__all__ = ["__version__"]
