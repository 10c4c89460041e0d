"""Manage where the Docker daemon listens: its -H/--host bindings."""

__version__ = "0.1.0"
