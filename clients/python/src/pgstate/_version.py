"""The version of the pgstate package."""

__version__ = "0.4.0"
