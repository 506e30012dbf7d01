"""The root of every FactoryOS exception.

Each package has its own root (``SiteFileError``, ``DriverError``, ``StoreError`` …) that
derives from :class:`FactoryOSError`, so a caller can catch one package's failures or all
of them. Foreign exceptions are translated at the package boundary with ``raise … from``.
"""


class FactoryOSError(Exception):
    """Base class of all FactoryOS errors."""
