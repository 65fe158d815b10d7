"""The hub's HTTP API and the stewards' console (``hub serve``, REGISTRY.md)."""
