"""Password hashes: scrypt (stdlib ``hashlib.scrypt``) written in werkzeug's ``scrypt:n:r:p$salt$hex``
format, so MLflow's auth app verifies fluvial's hashes and fluvial verifies MLflow's (scrypt, and the
older ``pbkdf2:sha256:iterations`` ones). Comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SALT_CHARS = string.ascii_letters + string.digits
_MAX_SCRYPT_N = 2**20
_MAX_PBKDF2_ITERATIONS = 10_000_000


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p).hex()


def hash_password(password: str) -> str:
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(16))
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}${salt}${_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)}"


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for any malformed or unknown hash."""
    try:
        method, salt, expected = stored.split("$", 2)
        name, *args = method.split(":")
        if name == "scrypt":
            n, r, p = (int(a) for a in args) if args else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
            if not (1 < n <= _MAX_SCRYPT_N and 0 < r <= 32 and 0 < p <= 16):
                return False
            actual = _scrypt(password, salt, n, r, p)
        elif name == "pbkdf2":
            digest = args[0] if args else "sha256"
            iterations = int(args[1]) if len(args) > 1 else 1_000_000
            if digest not in ("sha256", "sha512", "sha1") or not 0 < iterations <= _MAX_PBKDF2_ITERATIONS:
                return False
            actual = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations).hex()
        else:
            return False
    except (ValueError, TypeError, UnicodeError, MemoryError):
        return False
    return hmac.compare_digest(actual.encode(), expected.encode())
