"""Who may use the console: one shared token, sessions, CSRF, a login rate limit.

Jupyter's model: the server prints a URL carrying a token; opening it sets a
session cookie (HttpOnly, SameSite=Strict). Scripts send the same token as
`Authorization: Bearer`. Forms carry a double-submit CSRF token, and a POST
whose Origin or Sec-Fetch-Site names another site is refused before any of it
is read.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "Auth", "RateLimiter", "cross_site", "csrf_ok",
           "is_loopback", "new_token"]

SESSION_COOKIE = "shipyard_session"
CSRF_COOKIE = "shipyard_csrf"
SESSION_TTL_S = 12 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost` only: anything else reaches other machines."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


@dataclass(kw_only=True, slots=True)
class RateLimiter:
    """At most `max_failures` wrong tokens per client per `window_s`; then 429 until it ages."""

    max_failures: int = 5
    window_s: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[0] + self.window_s - time.monotonic()) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        while q and q[0] < time.monotonic() - self.window_s:
            q.popleft()
        return q


@dataclass(kw_only=True, slots=True)
class Auth:
    """The server's token and its live sessions (in memory: a restart logs everyone out)."""

    token: str
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _sessions: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    def open_session(self) -> str:
        sid = new_token()
        with self._lock:
            self._sessions[sid] = time.time() + SESSION_TTL_S
        return sid

    def session_ok(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            expires = self._sessions.get(sid)
            if expires is not None and expires < time.time():
                del self._sessions[sid]
                expires = None
        return expires is not None

    def close_session(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    @staticmethod
    def bearer(header: str | None) -> str | None:
        scheme, _, value = (header or "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """The form's hidden token must equal the cookie only this site could have set."""
    return bool(cookie) and bool(submitted) and hmac.compare_digest(
        cookie.encode(), (submitted or "").encode())


def cross_site(origin: str | None, fetch_site: str | None, own_origin: str) -> bool:
    """A browser says where a POST comes from; anything but this origin is refused."""
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return True
    return bool(origin) and (origin == "null" or origin.rstrip("/") != own_origin)
