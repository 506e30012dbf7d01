"""Errors of the security package.

::

    SecurityError              root
    ├── PkiError               a CA or certificate that cannot be made, read or written
    └── BrokerConfigError      broker users, rights or secrets that cannot be generated
"""

from factoryos.errors import FactoryOSError


class SecurityError(FactoryOSError):
    """Root of the security package's errors."""


class PkiError(SecurityError):
    """A CA or certificate that cannot be created, loaded or written; names the file."""


class BrokerConfigError(SecurityError):
    """Broker users, access rules or secrets that cannot be generated; names what and where."""
