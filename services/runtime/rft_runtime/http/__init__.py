"""The HTTP shell every service shares: app factory, health checks, body limits, serving."""
