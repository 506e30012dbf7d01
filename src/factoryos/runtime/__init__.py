"""Wiring of the running platform: settings, and the tasks of `factoryos demo` and `serve`."""
