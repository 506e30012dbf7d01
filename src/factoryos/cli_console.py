"""The terminal consoles every command prints through: tables to stdout, messages to stderr."""

from rich.console import Console

out = Console()
err = Console(stderr=True, soft_wrap=True)  # a file path in a message must not be broken

__all__ = ["err", "out"]
