"""Retention classes in the site file: how long each kind of tag keeps its data.

::

    retention:
      default: {raw: 30d, rollup_1m: 400d, rollup_1h: 3660d}
      classes:
        vibration: {raw: 7d, rollup_1m: 90d}     # unset ones come from default
        energy: {raw: 400d}                       # billing needs the raw meter readings

A tag names its class with ``retention: vibration``; tags that name none follow
``default``. Durations use the site file's units (ms, s, m, h, d, w).
"""

from typing import Annotated

from pydantic import AfterValidator, Field

from factoryos.model.tags import Name, Strict
from factoryos.model.timeparse import parse_duration_ns


def _duration(text: str) -> str:
    parse_duration_ns(text)  # raises ValueError naming the text
    return text


Duration = Annotated[str, AfterValidator(_duration)]


class Keep(Strict):
    """How long one class keeps raw samples and each rollup; None: as the default class."""

    raw: Duration | None = Field(default=None, description="Raw samples, e.g. 30d.")
    rollup_1m: Duration | None = Field(default=None, description="1-minute rollups.")
    rollup_1h: Duration | None = Field(default=None, description="1-hour rollups.")


DEFAULT_KEEP = Keep(raw="30d", rollup_1m="400d", rollup_1h="3660d")


class RetentionConfig(Strict):
    """The ``retention:`` section: a default and named classes of tags."""

    default: Keep = DEFAULT_KEEP
    classes: dict[Name, Keep] = Field(default_factory=dict)

    def keep_ns(self, name: str | None) -> tuple[int, int, int]:
        """(raw, rollup_1m, rollup_1h) keep of class ``name`` (None: default), in ns; what a
        class leaves unset comes from the default, and what that leaves unset from
        DEFAULT_KEEP."""
        own = self.classes[name] if name is not None else Keep()
        result = []
        for field in ("raw", "rollup_1m", "rollup_1h"):
            text = (
                getattr(own, field) or getattr(self.default, field) or getattr(DEFAULT_KEEP, field)
            )
            result.append(parse_duration_ns(text))
        return result[0], result[1], result[2]
