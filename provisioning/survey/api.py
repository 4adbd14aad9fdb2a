"""The few controller API calls a survey makes: log in, echo, uplink, read and write the
gateway's configuration layer. Failures come out as :class:`ApiFailure` with the reason."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import requests

PREFIX = "/api/v1"


class ApiFailure(Exception):
    """The controller could not be reached or refused; ``status`` is the HTTP status (0: no
    answer at all)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Timed:
    sent_at: float  # wall clock just before sending
    received_at: float  # wall clock once the answer was read
    seconds: float  # monotonic duration
    body: Any
    date_header: str = ""


class ControllerApi:
    def __init__(
        self, url: str, token: str = "", *, verify: bool | str = True, timeout_s: float = 5.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.verify = verify
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kw: Any) -> Timed:
        sent_at, started = time.time(), time.monotonic()
        try:
            reply = self._session.request(
                method,
                self.url + path,
                headers=self._headers(),
                timeout=self.timeout_s,
                verify=self.verify,
                **kw,
            )
            body = reply.json() if reply.content else None
        except requests.exceptions.SSLError as exc:
            raise ApiFailure(f"TLS to {self.url} failed: {type(exc).__name__}") from exc
        except requests.Timeout as exc:
            raise ApiFailure(f"{self.url}: no answer in {self.timeout_s:g} s") from exc
        except requests.ConnectionError as exc:
            raise ApiFailure(f"{self.url}: connection failed") from exc
        except (requests.RequestException, ValueError) as exc:
            raise ApiFailure(f"{self.url}{path}: {type(exc).__name__}") from exc
        seconds, received_at = time.monotonic() - started, time.time()
        if reply.status_code >= 400:
            detail = body.get("detail", "") if isinstance(body, dict) else ""
            raise ApiFailure(f"HTTP {reply.status_code}: {detail}".strip(), reply.status_code)
        return Timed(sent_at, received_at, seconds, body, reply.headers.get("Date", ""))

    def login(self, username: str, password: str) -> str:
        done = self.request(
            "POST", f"{PREFIX}/auth/login", json={"username": username, "password": password}
        )
        self.token = str(done.body["token"])
        return self.token

    def healthz(self) -> Timed:
        return self.request("GET", "/healthz")

    def echo(self) -> Timed:
        return self.request("GET", f"{PREFIX}/survey/echo")

    def uplink(self, size: int) -> Timed:
        # incompressible, so no proxy or link compression flatters the figure
        return self.request("POST", f"{PREFIX}/survey/uplink", data=os.urandom(size))

    def layer(self, gateway_id: str) -> tuple[int, dict[str, Any]]:
        body = self.request("GET", f"{PREFIX}/config/gateway:{gateway_id}").body
        return int(body["version"]), dict(body["document"] or {})

    def put_layer(
        self, gateway_id: str, document: dict[str, Any], base: int, reason: str
    ) -> dict[str, Any]:
        body = {"document": document, "base_version": base, "reason": reason}
        return dict(self.request("PUT", f"{PREFIX}/config/gateway:{gateway_id}", json=body).body)
