"""Authentication and authorization for ``fluvial server --app-name basic-auth`` (docs/auth.md)."""
