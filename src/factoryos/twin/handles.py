"""Handles: the identifiers of the registry, ``prefix/suffix`` as in the national industrial
internet identifier system (e.g. ``88.123.4567/SN-000042``). Pure functions, no I/O.

Grammar (ABNF, RFC 5234)::

    handle  = prefix "/" suffix
    prefix  = segment *7("." segment)        ; 1 to 8 segments
    segment = 1*16(DIGIT / ALPHA)            ; ASCII only
    suffix  = part *("/" part)               ; 1 to 200 characters in all
    part    = 1*pchar                        ; but not "." or ".."
    pchar   = ALPHA / DIGIT / "-" / "." / "_" / "~" / "!" / "$" / "&" / "'" / "(" / ")"
            / "*" / "+" / "," / ";" / "=" / ":" / "@"

A prefix is case-insensitive and kept in lower case (``88.ABC`` is ``88.abc``), as Handle
System prefixes are; a suffix is case-sensitive and kept as given (serial numbers are).
``pchar`` is RFC 3986's path character set without ``%``: a handle travels in a URL path
unescaped, and no handle can be spelled two ways (escaped and not). ``.`` and ``..`` parts
are refused because clients and proxies collapse them in URL paths.

Prefixes form a tree by their segments: ``88.123.4567`` is under ``88.123``, which is under
``88``. Whoever owns a prefix owns everything under it (see twin/registry.py).
"""

import re
import string
from dataclasses import dataclass

from factoryos.twin.errors import HandleError

MAX_SEGMENTS = 8
MAX_SEGMENT = 16
MAX_PREFIX = MAX_SEGMENTS * MAX_SEGMENT + MAX_SEGMENTS - 1  # 135 characters
MAX_SUFFIX = 200
MAX_HANDLE = MAX_PREFIX + 1 + MAX_SUFFIX  # 336 characters
_PUNCT = "-._~!$&'()*+,;=:@"
SUFFIX_CHARACTERS = frozenset(string.ascii_letters + string.digits + _PUNCT)
_SEGMENT_CHARACTERS = frozenset(string.ascii_letters + string.digits)

# The fast path (one regex each); the slow path below only runs to explain a failure.
_PREFIX = re.compile(rf"[0-9a-z]{{1,{MAX_SEGMENT}}}(?:\.[0-9a-z]{{1,{MAX_SEGMENT}}}){{0,7}}")
_SUFFIX = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]+(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)*")


@dataclass(frozen=True, slots=True)
class Handle:
    """A valid handle: ``prefix`` in lower case, ``suffix`` as given."""

    prefix: str
    suffix: str

    def __str__(self) -> str:
        return f"{self.prefix}/{self.suffix}"


def parse_prefix(text: str, field: str = "prefix") -> str:
    """``text`` as a prefix in lower case; :class:`HandleError` naming ``field`` and the
    offending segment or character otherwise."""
    # isascii first: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones
    lowered = text.lower()
    if text.isascii() and len(text) <= MAX_PREFIX and _PREFIX.fullmatch(lowered):
        return lowered
    raise HandleError(field, text, _prefix_problem(text))


def parse_handle(text: str, field: str = "handle") -> Handle:
    """``text`` as a handle; :class:`HandleError` naming ``field`` and the offending part."""
    prefix, slash, suffix = text.partition("/")
    if not slash:
        raise HandleError(field, text, "no '/': a handle is prefix/suffix, e.g. 88.123.4567/SN42")
    lowered = prefix.lower()
    if not prefix.isascii() or len(prefix) > MAX_PREFIX or not _PREFIX.fullmatch(lowered):
        raise HandleError(field, text, f"prefix {_prefix_problem(prefix)}")
    if len(suffix) > MAX_SUFFIX or not _SUFFIX.fullmatch(suffix) or _dot_part(suffix):
        raise HandleError(field, text, f"suffix {_suffix_problem(suffix)}")
    return Handle(lowered, suffix)


def ancestors(prefix: str) -> tuple[str, ...]:
    """``prefix`` and every prefix above it, longest first: ``88.1.2`` → ``88.1.2, 88.1, 88``."""
    parts = prefix.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts), 0, -1))


def is_under(prefix: str, other: str) -> bool:
    """Whether ``prefix`` is ``other`` or below it (by whole segments: ``88.12`` is not under
    ``88.1``)."""
    return prefix == other or prefix.startswith(other + ".")


def _shown(c: str) -> str:
    """A character for a message: look-alikes (the Kelvin sign, a Cyrillic a) get their
    code point."""
    return repr(c) if c.isascii() else f"{c!r} (U+{ord(c):04X})"


def _dot_part(suffix: str) -> bool:
    return any(part in (".", "..") for part in suffix.split("/"))


def _prefix_problem(prefix: str) -> str:
    """Why ``prefix`` is not a prefix, naming the segment or character."""
    if not prefix:
        return "is empty"
    if len(prefix) > MAX_PREFIX:
        return f"is {len(prefix)} characters long, at most {MAX_PREFIX}"
    segments = prefix.split(".")
    if len(segments) > MAX_SEGMENTS:
        return f"has {len(segments)} segments, at most {MAX_SEGMENTS}"
    for n, segment in enumerate(segments, 1):
        if not segment:
            return f"segment {n} is empty (two dots, or a dot at an end)"
        if len(segment) > MAX_SEGMENT:
            return f"segment {n} is {len(segment)} characters long, at most {MAX_SEGMENT}"
        bad = next((c for c in segment if c not in _SEGMENT_CHARACTERS), None)
        if bad is not None:
            return f"segment {n} has {_shown(bad)}: only ASCII letters and digits"
    return "is not dot-separated letters and digits"  # unreachable while the regex agrees


def _suffix_problem(suffix: str) -> str:
    """Why ``suffix`` is not a suffix, naming the part or character."""
    if not suffix:
        return "is empty"
    if len(suffix) > MAX_SUFFIX:
        return f"is {len(suffix)} characters long, at most {MAX_SUFFIX}"
    for at, c in enumerate(suffix, 1):
        if c != "/" and c not in SUFFIX_CHARACTERS:
            allowed = f"ASCII letters, digits, / and {_PUNCT}"
            return f"character {at} is {_shown(c)}: allowed are {allowed}"
    for n, part in enumerate(suffix.split("/"), 1):
        if not part:
            return f"part {n} is empty (a '/' at an end, or '//')"
        if part in (".", ".."):
            return f"part {n} is {part!r}, which URL paths collapse"
    return "is not a valid suffix"  # unreachable while the regex agrees


__all__ = [
    "MAX_HANDLE",
    "MAX_PREFIX",
    "MAX_SEGMENT",
    "MAX_SEGMENTS",
    "MAX_SUFFIX",
    "SUFFIX_CHARACTERS",
    "Handle",
    "ancestors",
    "is_under",
    "parse_handle",
    "parse_prefix",
]
