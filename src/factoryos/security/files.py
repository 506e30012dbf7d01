"""Writing generated files: private ones readable by their owner only, each replaced whole
(a broker reloading on SIGHUP never reads half a password file), none clobbered by accident."""

import contextlib
import errno
import os
from pathlib import Path

PRIVATE = 0o600
"""Keys and secrets: the owner alone."""
SHARED = 0o640
"""Broker password hashes and access rules: the owner and the broker's group."""
PUBLIC = 0o644
"""Certificates and config snippets."""
MAX_READ = 16 * 2**20
"""Far beyond any generated file: a larger one is something else, not read by mistake."""


def read_generated(path: Path) -> bytes | None:
    """The bytes of a file we generated earlier; None when there is none.

    Raises ``OSError`` (``EFBIG`` above :data:`MAX_READ`); callers name the file.
    """
    try:
        with path.open("rb") as f:
            data = f.read(MAX_READ + 1)
    except FileNotFoundError:
        return None
    if len(data) > MAX_READ:
        raise OSError(errno.EFBIG, f"larger than {MAX_READ} bytes", str(path))
    return data


def write_file(path: Path, data: bytes, mode: int, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with ``mode``; ``FileExistsError`` unless ``overwrite``.

    The bytes go to a temporary file created with ``mode`` (so a key is never readable by
    others, not even for a moment), flushed to disk, then renamed over ``path``.
    Raises ``OSError``; callers name the file in their own error.
    """
    if not overwrite and path.exists():
        raise FileExistsError(errno.EEXIST, "exists", str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # os.open's mode is filtered by the umask
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
