"""Mail: the iMIP message builder and its texts (pure), and the SMTP connection pool."""
