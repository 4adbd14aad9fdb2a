"""A stand-in for Telegram's Bot API (``https://api.telegram.org/bot<token>/<method>``) for a test
that has pointed the name at 127.0.0.1 in a network namespace of its own.

It speaks HTTPS with a throwaway self-signed certificate (made here, key in the caller's tmp dir),
records every call (method, chat id, text or caption, and the uploaded photo's SHA-256) and answers
from a script: ``ok`` or an error the real API gives (403 blocked, 400 chat not found, 429 with
``retry_after``). Like the real API it refuses ``parse_mode=HTML`` text that is not valid HTML for
Telegram (a bare ``<`` or ``&``) with 400 "can't parse entities".
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509

from tests import certs

HOST = "api.telegram.org"

ERRORS: dict[str, tuple[int, str, dict[str, Any]]] = {
    "blocked": (403, "Forbidden: bot was blocked by the user", {}),
    "chat_not_found": (400, "Bad Request: chat not found", {}),
    "too_many": (429, "Too Many Requests: retry after 3", {"retry_after": 3}),
}
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
# Telegram's HTML mode: an ``&`` must start an entity, a ``<`` a tag it knows.
_BAD_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)")
_BAD_LT = re.compile(r"<(?!/?(?:b|strong|i|em|u|ins|s|strike|del|a|code|pre|tg-spoiler)\b)")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for :data:`HOST` and its key (0600), both in ``directory``."""
    return certs.self_signed(directory, "fake-telegram", HOST, x509.DNSName(HOST))


@dataclass
class BotApi:
    """The recorded calls and the script of answers (``ok`` once the script is used up)."""

    token: str
    script: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(call)
            scripted = self.script.pop(0) if self.script else "ok"
        if call["token"] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        text = call.get("text") or call.get("caption") or ""
        if call.get("parse_mode") == "HTML" and (_BAD_AMP.search(text) or _BAD_LT.search(text)):
            scripted = "bad_html"
        if scripted == "bad_html":
            desc = "Bad Request: can't parse entities: unsupported start tag or entity"
            return 400, {"ok": False, "error_code": 400, "description": desc}
        if scripted in ERRORS:
            code, desc, params = ERRORS[scripted]
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": desc}
            return code, {**body, "parameters": params} if params else body
        result = {"message_id": len(self.calls), "chat": {"id": call.get("chat_id")}}
        return 200, {"ok": True, "result": result}


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    """The call's fields: JSON (sendMessage) or multipart form data (sendPhoto)."""
    if content_type.startswith("application/json"):
        data = json.loads(body)
        return {k: data.get(k) for k in ("chat_id", "text", "parse_mode")}
    if not content_type.startswith("multipart/form-data"):
        return {"unparsed": content_type}
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    out: dict[str, Any] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            out[f"{name}_sha256"] = hashlib.sha256(payload).hexdigest()
            out[f"{name}_filename"] = part.get_filename()
        else:
            out[name] = payload.decode()
    if "chat_id" in out:
        out["chat_id"] = int(out["chat_id"])
    return out


def serve(api: BotApi, cert: Path, key: Path, port: int = 443) -> ThreadingHTTPServer:
    """Start answering on 127.0.0.1:``port`` in a daemon thread; ``shutdown()`` ends it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            m = _PATH.match(self.path)
            call: dict[str, Any] = {"method": m["method"] if m else self.path}
            call["token"] = m["token"] if m else ""
            call.update(_parse(self.headers.get("Content-Type", ""), body))
            status, answer = api.answer(call)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *_a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server
