"""The backend fixtures of the shared contract suite, for the other store suites."""

from store.test_backends import backend, store

__all__ = ["backend", "store"]
