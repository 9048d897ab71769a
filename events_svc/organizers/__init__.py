"""People who organize: an organization's organizers (admin / editor), their sign-in by e-mail
link and their console sessions."""
