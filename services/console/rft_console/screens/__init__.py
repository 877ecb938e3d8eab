"""One module per screen of the journey; each builds its router from a :class:`Console`."""
