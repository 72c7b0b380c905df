"""HTTP client seam: a one-method transport protocol, the real keep-alive transport and an
in-process one that calls an ASGI app directly (tests)."""
