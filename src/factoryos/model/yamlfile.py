"""YAML loading that remembers the line of every value, for errors that name it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from factoryos.model.errors import ConfigFileError, SiteProblem

Path_ = tuple[str | int, ...]


_MERGE = "tag:yaml.org,2002:merge"


def _merged(node: yaml.Node) -> list[yaml.MappingNode]:
    sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not all(isinstance(n, yaml.MappingNode) for n in sources):
        raise yaml.constructor.ConstructorError(
            None, None, "a merge key (<<) needs a mapping or a list of mappings", node.start_mark
        )
    return list(sources)


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *anchor`: the anchor's keys, explicit ones win
                for source in _merged(value_node):
                    for k, v in _construct(source, path, lines).items():
                        out.setdefault(k, v)
                continue
            key = yaml.safe_load(yaml.serialize(key_node))
            out[key] = _construct(value_node, (*path, key), lines)
            # A field is reported at its key's line; a missing field at its parent's.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML text; return the data and a map from each value's path to its line.

    Raises ``yaml.YAMLError`` for text that is not YAML.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    return _construct(node, (), lines), lines


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the file."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def dotted(path: Path_) -> str:
    """``('devices', 0, 'port')`` → ``devices[0].port``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def parse_yaml(
    text: str, source: Path | str, error: type[ConfigFileError]
) -> tuple[Any, dict[Path_, int]]:
    """:func:`load_with_lines`, with text that is not YAML raised as ``error`` (with its line)."""
    try:
        return load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(source, [SiteProblem("(yaml)", line, str(problem))]) from exc


def read_text(path: Path | str, error: type[ConfigFileError]) -> str:
    """A configuration file's text; an unreadable file raised as ``error``."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(p, [SiteProblem("(file)", None, f"cannot read: {exc.strerror}")]) from exc


def validation_problems(
    err: ValidationError,
    lines: dict[Path_, int],
    base: Path_ = (),
    fix_loc: Callable[[Path_], Path_] = lambda loc: loc,
) -> list[SiteProblem]:
    """pydantic's errors as problems naming the field and its line; ``base`` is where the
    validated data sits in the file, ``fix_loc`` drops locations pydantic inserts."""
    problems = []
    for e in err.errors():
        loc = (*base, *fix_loc(tuple(e["loc"])))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        problems.append(SiteProblem(dotted(loc), line_of(lines, loc), message))
    return problems
