"""FactoryOS: an open-source industrial internet platform."""

__version__ = "0.1.0"
