"""A tiny, strict JSON-path subset: ``$``, ``$.a.b``, ``$.items[0].value``.

A path is ``$`` followed by steps: ``.name`` (a key of an object; letters, digits, ``_``, ``-``)
or ``[n]`` (an element of an array). Nothing else: no wildcards, filters, slices or quoting,
so a path means one value and finding it costs one dict or list lookup per step. A step that
does not fit the document (a key on an array, an index on an object, a missing key) is an
error, never a guess.
"""

import re
from typing import Any

from factoryos.connect.errors import ConfigError, PayloadError
from factoryos.model.tags import JSON_PATH_RE

Step = str | int
_PATH = re.compile(JSON_PATH_RE)
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


def compile_path(path: str) -> tuple[Step, ...]:
    """The steps of ``path``: a key (str) or an array index (int) each.

    Raises :class:`ConfigError` naming the path when it is not in the subset.
    """
    if not _PATH.fullmatch(path):
        raise ConfigError(
            f"JSON path {path!r} is not supported: use $ followed by .key or [index] steps "
            "(e.g. $.data.value or $.items[0])"
        )
    return tuple(
        key if key else int(index) for key, index in (m.groups() for m in _STEP.finditer(path))
    )


def render(steps: tuple[Step, ...]) -> str:
    """The text of a compiled path, for messages."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def lookup(document: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` in a parsed JSON document.

    Raises :class:`PayloadError` (reason ``missing``) naming the first step that does not fit.
    """
    node = document
    for depth, step in enumerate(steps):
        if isinstance(step, int):
            found = isinstance(node, list) and step < len(node)
        else:
            found = isinstance(node, dict) and step in node
        if not found:
            raise PayloadError(
                "missing", f"no {render(steps[: depth + 1])} in the payload ({_kind(node)} there)"
            )
        node = node[step]
    return node


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        return "an object"
    if isinstance(node, list):
        return f"an array of {len(node)}"
    return f"a {type(node).__name__}"
