"""Self-registration to public events: double opt-in, then an invitation like any other."""
