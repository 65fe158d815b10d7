"""The ASGI apps of the five simulated platforms (see ``simulators.server``)."""
