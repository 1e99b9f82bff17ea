"""Database access: plain async functions that take a connection, plus migrations."""
