"""HTTP pages: the one page shell (templates, stylesheet, script) shared by the console and
the public pages (RSVP, certificate). Pages here only call services."""
