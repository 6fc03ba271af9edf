"""ghostls: a local AI language server for Python."""

__version__ = "0.1.0"
