"""Entra ID tokens as PostgreSQL passwords (Azure Database for PostgreSQL, managed identity).

A token is asked for only when a new connection logs in, and reused until it is within
`REFRESH_MARGIN_SECONDS` of expiry; connections already open stay valid (the server checks
the token only at login). The credential calls themselves live in the stores (sync and aio).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from azure.core.credentials import AccessToken

SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
REFRESH_MARGIN_SECONDS = 300.0


@dataclass
class TokenCache:
    """The current token, and whether it must be refreshed before the next login."""

    margin_seconds: float = REFRESH_MARGIN_SECONDS
    _token: AccessToken | None = field(default=None, repr=False)

    def current(self, now: float | None = None) -> str | None:
        """The cached token, or None when there is none or it expires within the margin."""
        moment = time.time() if now is None else now
        if self._token is None or self._token.expires_on - self.margin_seconds <= moment:
            return None
        return self._token.token

    def keep(self, token: AccessToken) -> str:
        self._token = token
        return token.token
