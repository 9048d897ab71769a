"""Piccolo migration files for the events_svc app (generated, then reviewed)."""
