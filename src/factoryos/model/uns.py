"""Unified Namespace paths: ``site/area/line/cell/equipment/tag``."""

import re

SEGMENT_RE = re.compile(r"^[a-z0-9_-]+$")
SEGMENT_RULE = "lower case letters, digits, '_' and '-' only"


def is_segment(name: str) -> bool:
    """True when ``name`` can be one segment of a Unified Namespace path."""
    return bool(SEGMENT_RE.match(name))


def join(*segments: str) -> str:
    """The Unified Namespace path of the given segments."""
    bad = [s for s in segments if not is_segment(s)]
    if bad:
        raise ValueError(f"invalid Unified Namespace segment {bad[0]!r}: {SEGMENT_RULE}")
    return "/".join(segments)


def split(path: str) -> list[str]:
    """The segments of a Unified Namespace path; raises ValueError when one is invalid."""
    segments = path.split("/")
    bad = [s for s in segments if not is_segment(s)]
    if bad:
        raise ValueError(f"invalid Unified Namespace path {path!r}: {SEGMENT_RULE}")
    return segments


def tag_path(equipment: str, name: str) -> str:
    """A tag named relative to its equipment (``power_kw``), or already a full path."""
    return name if "/" in name else f"{equipment}/{name}"


def within(path: str, place: str) -> bool:
    """``path`` is ``place`` or lies under it (``demo/line1/cnc`` within ``demo/line1``)."""
    return path == place or path.startswith(f"{place}/")
