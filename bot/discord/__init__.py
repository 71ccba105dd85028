"""Discord-facing pieces shared by the extensions: streamed replies, error reporting, permission checks."""
