"""The web UI: templates and static assets served by the API (no CDN, no build step)."""

from factoryos.web.pages import mount_web

__all__ = ["mount_web"]
