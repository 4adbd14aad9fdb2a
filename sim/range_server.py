"""A release server on loopback that speaks ``Range: bytes=N-`` and can misbehave like a flaky
link: it cuts connections part-way through a body, ignores Range, or answers an error status.
It counts every body byte it writes, so a test or a benchmark can tell whether a resumed
download was sent anything twice.

A cut sends the body up to the cut and then shuts the socket down (a FIN, not a reset), so
everything counted did reach the client. The OTA tests and ``benchmarks.ota_download`` share it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE_RE = re.compile(r"^bytes=(\d+)-$")
CHUNK = 256 * 1024  # a large file is streamed, never read whole


@dataclass
class ServerFaults:
    """How the server misbehaves, per file name. Cuts are used up as responses make them."""

    ignore_range: bool = False
    cut_after: dict[str, int] = field(default_factory=dict)  # one response of this file is cut
    # responses of this file cut in turn, each after so many bytes of its body (a flaky 4G link)
    cuts: dict[str, list[int]] = field(default_factory=dict)
    # file offsets: a response that would send the byte at the first one ahead of its start
    # stops just before it (each offset cuts once, wherever the resumes happen to start)
    offsets: dict[str, list[int]] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # answer this status for the file

    def next_cut(self, name: str) -> int | None:
        if self.cuts.get(name):
            return self.cuts[name].pop(0)
        return self.cut_after.pop(name, None)

    def stop(self, name: str, start: int, size: int) -> int | None:
        """The file offset where a response from ``start`` ends early, or None: send it all."""
        cut = self.next_cut(name)
        if cut is not None:
            return min(start + cut, size)
        ahead = sorted(at for at in self.offsets.get(name, []) if start < at < size)
        if not ahead:
            return None
        self.offsets[name].remove(ahead[0])
        return ahead[0]


class RangeServer:
    """Serves the files under ``root`` (URL path = path below root); supports ``Range: bytes=N-``
    (206 with Content-Range) unless told to ignore it; counts body bytes sent per file name and
    records each request and each cut made."""

    def __init__(self, root: Path, faults: ServerFaults | None = None) -> None:
        self.root = root
        self.faults = faults or ServerFaults()
        self.sent: Counter[str] = Counter()
        self.requests: list[tuple[str, str | None]] = []  # (file name, Range header)
        self.cut_at: list[tuple[str, int]] = []  # (file name, offset the response stopped at)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # Range and 206 are HTTP/1.1, as a real server speaks

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="range-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> RangeServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        rel = req.path.lstrip("/")
        name = rel.rsplit("/", 1)[-1]
        path = self.root / rel
        rng = req.headers.get("Range")
        with self.lock:
            self.requests.append((name, rng))
        if name in self.faults.status:
            req.send_error(self.faults.status[name])
            return
        if ".." in rel or not path.is_file():
            req.send_error(404)
            return
        size = path.stat().st_size
        start = 0
        match = RANGE_RE.match(rng or "")
        if match and not self.faults.ignore_range:
            start = int(match.group(1))
            if start >= size:
                req.send_error(416)
                return
            req.send_response(206)
            req.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            req.send_response(200)
        req.send_header("Content-Length", str(size - start))
        req.end_headers()
        with self.lock:
            stop = self.faults.stop(name, start, size)
            if stop is not None:
                self.cut_at.append((name, stop))
        self._send(req, path, name, start, size if stop is None else stop)
        if stop is not None:
            req.wfile.flush()
            req.close_connection = True
            req.connection.shutdown(2)  # the rest never comes on this connection

    def _send(self, req: BaseHTTPRequestHandler, path: Path, name: str, at: int, stop: int) -> None:
        with path.open("rb") as src:
            src.seek(at)
            while at < stop:
                data = src.read(min(CHUNK, stop - at))
                req.wfile.write(data)
                at += len(data)
                with self.lock:
                    self.sent[name] += len(data)
