"""The web console: one screen per step of the journey, rendered on the server (Jinja2, htmx),
reading and writing only through the services' public HTTP APIs."""

from rft_console.settings import ConsoleSettings

__all__ = ["ConsoleSettings"]
