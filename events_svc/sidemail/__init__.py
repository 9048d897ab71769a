"""The side-mail outbox: single-recipient mails that carry no calendar (a console sign-in
link, a registration's confirmation), queued inside the caller's transaction; a worker
renders each by its kind and sends it."""
