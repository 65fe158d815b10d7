"""Authentication strategies, each a ``requests`` AuthBase.

* :class:`OAuth2ClientCredentials` — civil affairs, health, medical insurance: fetches a
  token lazily, renews it before it expires, and on a 401 mid-read renews it and
  repeats the call (PLATFORMS.md), up to ``max_renewals`` times in a row.
* :class:`HmacSignature` — public security: signs METHOD, path as sent, raw query and a
  unix timestamp with the app secret; a 401 is answered once by signing afresh.
* :class:`ApiKeyHeader` — property management: ``X-Api-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from connectors.errors import PlatformError

__all__ = ["ApiKeyHeader", "HmacSignature", "OAuth2ClientCredentials"]

log = logging.getLogger(__name__)


class OAuth2ClientCredentials(AuthBase):
    def __init__(self, token_url: str, client_id: str, client_secret: str, session: requests.Session,
                 platform: str) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = session
        self.platform = platform
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    #: A 401 means "renew and repeat" (PLATFORMS.md). A second 401 right after a fresh
    #: token can still be the platform invalidating tokens; a third means the credentials
    #: are refused, and the error says so.
    max_renewals = 2

    def __repr__(self) -> str:  # never show the secret
        return f"OAuth2ClientCredentials({self.platform}, client_id={self.client_id!r})"

    def _fetch(self) -> None:
        resp = self.session.post(
            self.token_url,
            data={"grant_type": "client_credentials", "client_id": self.client_id,
                  "client_secret": self.client_secret},
            auth=None,
        )
        if resp.status_code != 200:
            from connectors.http import raise_for_platform

            raise_for_platform(self.platform, resp)
        body = resp.json()
        token = body.get("access_token")
        if not token:
            raise PlatformError(f"{self.platform}: token endpoint returned no access_token")
        self._token = token
        # Renew a little early so a token does not expire between check and use.
        ttl = float(body.get("expires_in") or 60)
        self._expires = time.monotonic() + max(ttl * 0.9, ttl - 30)
        log.debug("%s: new access token, valid %.0fs", self.platform, ttl)

    def token(self, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        used = self.token()
        r.headers["Authorization"] = f"Bearer {used}"
        r.register_hook("response", self._renew_on_401(used))
        return r

    def _renew_on_401(self, used: str, renewals: int = 0):
        def hook(resp: requests.Response, **kwargs) -> requests.Response:
            if resp.status_code != 401 or renewals >= self.max_renewals:
                return resp
            with self._lock:
                if self._token == used:  # nobody renewed it meanwhile
                    self._token = None
            fresh = self.token()
            log.info("%s: 401 mid-read, token renewed, repeating the call", self.platform)
            again = _repeat(resp, {"Authorization": f"Bearer {fresh}"}, kwargs)
            # the repeat may meet a 401 too: then renew again, with the token it carried
            return self._renew_on_401(fresh, renewals + 1)(again, **kwargs)

        return hook


def _repeat(resp: requests.Response, headers: dict[str, str], kwargs: dict) -> requests.Response:
    """Send ``resp``'s request again with ``headers`` changed, through the adapter that
    sent it (so the repeat is paced and retried like the first call)."""
    resp.content  # release the connection  # noqa: B018
    resp.close()
    req = resp.request.copy()
    req.headers.update(headers)
    again = resp.connection.send(req, **{k: v for k, v in kwargs.items()
                                         if k in ("timeout", "stream", "verify", "cert", "proxies")})
    again.history.insert(0, resp)
    return again


class HmacSignature(AuthBase):
    def __init__(self, app_key: str, app_secret: str) -> None:
        self.app_key = app_key
        self._secret = app_secret.encode()

    def __repr__(self) -> str:
        return f"HmacSignature(app_key={self.app_key!r})"

    def sign(self, method: str, path: str, query: str, ts: str) -> str:
        msg = f"{method}\n{path}\n{query}\n{ts}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def _sign(self, r: requests.PreparedRequest) -> None:
        parts = urlsplit(r.url)
        ts = str(int(time.time()))
        r.headers["X-App-Key"] = self.app_key
        r.headers["X-Timestamp"] = ts
        r.headers["X-Signature"] = self.sign(r.method or "GET", parts.path, parts.query, ts)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        self._sign(r)
        r.register_hook("response", self._resign_on_401)
        return r

    def _resign_on_401(self, resp: requests.Response, **kwargs) -> requests.Response:
        """A 401 may only mean the timestamp went stale (more than 300 s): the transport's
        retries after 429s and 5xx resend the request as first signed. Sign it afresh and
        send it once more (PLATFORMS.md: "refresh once and retry"); a second 401 stands."""
        if resp.status_code != 401:
            return resp
        log.info("public_security: 401, signing the request afresh and repeating it once")
        req = resp.request.copy()
        self._sign(req)
        return _repeat(resp, dict(req.headers), kwargs)


class ApiKeyHeader(AuthBase):
    def __init__(self, key: str, header: str = "X-Api-Key") -> None:
        self.header = header
        self._key = key

    def __repr__(self) -> str:
        return f"ApiKeyHeader({self.header})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self._key
        return r
