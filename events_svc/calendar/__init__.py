"""Pure calendar functions: times, zones, RRULEs, iCalendar output."""
