"""Send progress over the API: per event, per organization; retrying one failed message."""
