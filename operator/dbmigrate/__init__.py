"""dbmigrate: safe database schema migrations."""

__version__ = "0.1.0"
