"""The agent's one HTTP consumer of pushed ONVIF events (WS-BaseNotification Notify).

A camera without PullPoint can still push: it is given a consumer address in a ``Subscribe``
and POSTs ``Notify`` messages there. One consumer serves every camera of the agent process; it
runs as one supervised worker and listens on the address (and port) the cameras are told: by
default the gateway's own address on the route to the camera, so it never listens on every
interface. Each subscription gets its own short, unguessable path (cameras limit URL lengths);
the path says which camera a Notify is for, and the sender must be that camera's address, or
one of the further addresses its configuration lists (``events.push_from``: a NAT between
camera and gateway, a camera that sends from a second interface).

Refused, counted and logged (never queued): an unknown path (404), a sender that is not the
camera (403), a body over :data:`MAX_BODY` or without a length (413/411), malformed chunked
framing (400; a chunked body is read with the same cap, see :mod:`agent.cameras.chunked_body`),
a transfer coding other than chunked (501), anything but POST (405), a Notify while 64 wait for
the camera's thread (503); a connection beyond 16 being served at once, or beyond 4 from one
address, is closed unanswered (counted as ``busy``), and a request must arrive whole within
15 s however slowly it trickles (a chunked one too). A Notify that is accepted
is parsed with the PullPoint parser (no entity expansion, no network) and handed to the
camera's subscriber thread through its :class:`Inbox`; mapping and de-duplication happen there,
exactly as for pulled messages.
"""

from __future__ import annotations

import http.server
import io
import ipaddress
import logging
import queue
import secrets
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from agent.cameras import soap_reply
from agent.cameras.chunked_body import ChunkedTooLarge, ChunkError, read_chunked
from agent.cameras.event_parse import SAFE_PARSER, PullResult, local, read_pull

log = logging.getLogger(__name__)

MAX_BODY = 256 << 10  # a Notify of a few dozen messages is well under this
PATH_PREFIX = "/e/"
TOKEN_BYTES = 12  # 16 URL-safe characters: unguessable, and short for cameras' URL limits
POLL_S = 0.1
REQUEST_TIMEOUT_S = 5.0  # a sender that stalls mid-request is dropped
REQUEST_DEADLINE_S = 15.0  # the whole request, however slowly it trickles in
LOG_EVERY = 100  # refusals after the first few are logged once per this many
MAX_QUEUED = 64  # Notify batches waiting for one camera's thread; more are refused with 503
MAX_HANDLERS = 16  # requests served at once; a connection beyond it is closed unanswered
MAX_PER_SENDER = 4  # of those, from one address: a stranger's flood leaves room for cameras

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Inbox:
    """One push subscription's mailbox: Notify batches for the camera's subscriber thread."""

    camera_id: str
    source_ip: str  # the camera's address: a Notify for this path is accepted from it ...
    path: str
    url: str = ""
    also_from: tuple[Network, ...] = ()  # ... and from these (events.push_from), nobody else
    received: int = 0  # Notify requests accepted
    last_sender: str = ""  # the address the last accepted Notify came from
    _extra_seen: set[str] = field(default_factory=set)  # push_from senders already logged
    refused: int = 0  # requests on this path refused (wrong sender, too large, unreadable)
    _results: queue.SimpleQueue[PullResult] = field(default_factory=queue.SimpleQueue)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, result: PullResult) -> bool:
        """Queue one Notify; False (nothing queued) when :data:`MAX_QUEUED` wait already: the
        camera's thread is behind, and a sender flooding us must not grow memory."""
        with self._lock:
            if self._results.qsize() >= MAX_QUEUED:
                return False
            self.received += 1
        self._results.put(result)
        return True

    def count_refused(self) -> None:
        with self._lock:
            self.refused += 1

    def sender_entry(self, sender: str) -> str | None:
        """Why ``sender`` may post here: "" for the camera's own address, the matching
        ``push_from`` entry for a listed one, None for anyone else."""
        if _same_ip(sender, self.source_ip):
            return ""
        address = _unmapped(sender)
        if address is None:
            return None
        return next((str(n) for n in self.also_from if address in n), None)

    def note_sender(self, sender: str, entry: str) -> bool:
        """Remember who sent the last accepted Notify; True the first time a ``push_from``
        sender (``entry``: the entry it matched) is seen, so that is logged once."""
        with self._lock:
            self.last_sender = sender
            if not entry or sender in self._extra_seen:
                return False
            self._extra_seen.add(sender)  # at most a /24's worth
            return True

    def take(self, timeout_s: float, stop: threading.Event) -> PullResult | None:
        """Everything delivered so far as one result, waiting up to ``timeout_s`` for the first
        (in slices, so ``stop`` ends the wait); None when nothing came."""
        waited = 0.0
        while True:
            try:
                first = self._results.get(timeout=POLL_S)
                break
            except queue.Empty:
                waited += POLL_S
                if stop.is_set() or waited >= timeout_s:
                    return None
        batch = [first]
        while True:
            try:
                batch.append(self._results.get_nowait())
            except queue.Empty:
                break
        return PullResult(
            [n for r in batch for n in r.notifications],
            [m for r in batch for m in r.malformed],
            sum(r.dropped for r in batch),
        )


def _unmapped(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address, an IPv4-mapped IPv6 one (``::ffff:10.0.5.1``) as IPv4."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``push_from`` entries (validated by the configuration) as networks; an address is its
    own one-address network."""
    return tuple(ipaddress.ip_network(e, strict=True) for e in entries)


def _same_ip(a: str, b: str) -> bool:
    """Equal addresses, an IPv4-mapped IPv6 sender counting as its IPv4 address."""
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return a == b
    x = getattr(x, "ipv4_mapped", None) or x
    y = getattr(y, "ipv4_mapped", None) or y
    return x == y


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, consumer: NotifyConsumer) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.consumer = consumer
        super().__init__((host, port), _Handler)
        self.timeout = 0.0  # handle_request after select: never wait again

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread per request, but never more than :data:`MAX_HANDLERS` at once: a flood
        of connections (or slow senders) beyond that is closed at once and counted."""
        if not self.consumer.admit(client_address[0]):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.consumer.release(client_address[0])
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.consumer.release(client_address[0])


class _DeadlineReader(io.RawIOBase):
    """The request's socket read with one deadline for the whole request: a sender that
    trickles a byte every few seconds (never tripping the per-read timeout) is cut off too."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self._sock.settimeout(min(left, REQUEST_TIMEOUT_S))
        return self._sock.recv_into(buffer)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    protocol_version = "HTTP/1.0"

    def setup(self) -> None:
        super().setup()
        deadline = time.monotonic() + self.server.consumer.request_deadline_s
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline))

    def do_POST(self) -> None:
        self.server.consumer.handle(self)

    def _refuse(self) -> None:
        self.server.consumer.refuse(self, 405, "method not allowed", None)

    do_GET = do_PUT = do_DELETE = do_HEAD = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the consumer logs refusals itself, with reasons and throttling."""

    def answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()


class NotifyConsumer:
    """The process's consumer: listening sockets by (host, port), inboxes by path."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.stats: Counter[str] = Counter()  # accepted, unknown_path, wrong_source, ...
        self._lock = threading.Lock()
        self._servers: dict[tuple[str, int], _Server] = {}
        self._inboxes: dict[str, Inbox] = {}
        self.request_deadline_s = REQUEST_DEADLINE_S
        self._serving: Counter[str] = Counter()  # requests being served, by sender

    # -- subscriptions -----------------------------------------------------------------------

    def register(
        self, camera_id: str, source_ip: str, host: str, port: int, also_from: Iterable[str] = ()
    ) -> Inbox:
        """A new inbox for one subscription of ``camera_id``, listening on ``host``:``port``
        (bound now if not yet; port 0 picks a free one), taking Notify from ``source_ip`` and
        the ``also_from`` addresses and networks. Raises OSError when it cannot bind."""
        extra = networks(also_from)
        server = self._listen(host, port)
        path = PATH_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        bound = server.server_address[1]
        url = f"http://{url_host(host)}:{bound}{path}"
        inbox = Inbox(camera_id, source_ip, path, url, also_from=extra)
        with self._lock:
            self._inboxes[path] = inbox
        return inbox

    def unregister(self, inbox: Inbox) -> None:
        """Forget the inbox: a late Notify on its path is then refused as unknown."""
        with self._lock:
            self._inboxes.pop(inbox.path, None)

    def inboxes(self) -> int:
        with self._lock:
            return len(self._inboxes)

    def _listen(self, host: str, port: int) -> _Server:
        with self._lock:
            server = self._servers.get((host, port))
            if server is None:
                server = _Server(host, port, self)
                self._servers[(host, port)] = server
                log.info("camera events: push consumer listening on http://%s:%d/",
                         url_host(host), server.server_address[1])  # fmt: skip
            return server

    # -- the worker --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Serve every listening socket until ``stop``; each request on its own thread."""
        while not stop.is_set():
            with self._lock:
                servers = list(self._servers.values())
            if not servers:
                stop.wait(POLL_S * 2)
                continue
            try:
                ready, _, _ = select.select(servers, [], [], POLL_S * 2)
            except (OSError, ValueError):  # a socket closed under us: look again
                continue
            for server in ready:
                server.handle_request()

    def close(self) -> None:
        """Close every listening socket (the agent stops)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.server_close()

    # -- requests (on the request's thread) --------------------------------------------------

    def admit(self, sender: str) -> bool:
        """Take a request slot for ``sender``: False (counted as ``busy``) when
        :data:`MAX_HANDLERS` are being served, or :data:`MAX_PER_SENDER` from that address."""
        with self._lock:
            ok = (self._serving.total() < MAX_HANDLERS
                  and self._serving[sender] < MAX_PER_SENDER)  # fmt: skip
            if ok:
                self._serving[sender] += 1
        if not ok:
            self.count("busy", sender)
        return ok

    def release(self, sender: str) -> None:
        with self._lock:
            self._serving[sender] -= 1
            if self._serving[sender] <= 0:
                del self._serving[sender]

    def serving(self) -> int:
        """Requests being served now."""
        with self._lock:
            return self._serving.total()

    def count(self, key: str, sender: str) -> int:
        """Count a refusal by reason; the first few and then one in :data:`LOG_EVERY` logged
        (connections closed for lack of a free handler are only counted and logged so)."""
        with self._lock:
            self.stats[key] += 1
            count = self.stats[key]
        if key == "busy" and (count <= 5 or count % LOG_EVERY == 0):
            log.warning("camera events: connection from %s closed: %d requests (%d from one "
                        "sender) already being served (%d so far)", sender, MAX_HANDLERS,
                        MAX_PER_SENDER, count)  # fmt: skip
        return count

    def refuse(
        self, handler: _Handler, status: int, reason: str, inbox: Inbox | None, key: str = ""
    ) -> None:
        key = key or f"http_{status}"
        count = self.count(key, handler.client_address[0])
        if inbox is not None:
            inbox.count_refused()
        if count <= 5 or count % LOG_EVERY == 0:
            who = f" for camera {inbox.camera_id}" if inbox is not None else ""
            log.warning("camera events: Notify from %s%s refused with %d: %s (%d so far)",
                        handler.client_address[0], who, status, reason, count)  # fmt: skip
        handler.answer(status)

    def handle(self, handler: _Handler) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            inbox = self._inboxes.get(path)
        if inbox is None:
            self.refuse(handler, 404, "unknown path", None, "unknown_path")
            return
        sender = handler.client_address[0]
        entry = inbox.sender_entry(sender)
        if entry is None:
            listed = " nor in its events.push_from" if inbox.also_from else ""
            self.refuse(handler, 403, f"not the camera's address {inbox.source_ip}{listed} (if "
                        "the camera sends from there, through a NAT or a second interface, "
                        "list it in events.push_from)", inbox, "wrong_source")  # fmt: skip
            return
        codings = handler.headers.get_all("Transfer-Encoding")
        raw = (
            self._read_sized(handler, inbox)
            if codings is None
            else self._read_chunked(handler, inbox, ", ".join(codings))
        )
        if raw is not None:
            self._deliver(handler, inbox, raw, entry)

    def _read_sized(self, handler: _Handler, inbox: Inbox) -> bytes | None:
        """A Content-Length body, or None when refused (and answered)."""
        length = handler.headers.get("Content-Length", "")
        if not length.strip().isdigit():
            self.refuse(handler, 411, "no Content-Length", inbox, "no_length")
            return None
        if int(length) > self.max_body:
            self.refuse(handler, 413, f"body of {int(length)} bytes", inbox, "too_large")
            return None
        try:
            return handler.rfile.read(int(length))
        except OSError:
            self.refuse(handler, 400, "body not received", inbox, "unreadable")
            return None

    def _read_chunked(self, handler: _Handler, inbox: Inbox, coding: str) -> bytes | None:
        """A ``Transfer-Encoding: chunked`` body within the same cap and deadline, or None
        when refused (and answered). Framing that could be read two ways (a length as well, an
        HTTP/1.0 request) is refused, as RFC 9112 asks of a server."""
        if coding.strip().lower() != "chunked":
            self.refuse(handler, 501, f"transfer coding {coding[:64]!r} not supported", inbox,
                        "bad_coding")  # fmt: skip
            return None
        if "Content-Length" in handler.headers:
            self.refuse(handler, 400, "both Content-Length and Transfer-Encoding", inbox,
                        "bad_chunking")  # fmt: skip
            return None
        if handler.request_version == "HTTP/1.0":
            self.refuse(handler, 400, "chunked body in an HTTP/1.0 request", inbox,
                        "bad_chunking")  # fmt: skip
            return None
        try:
            raw = read_chunked(handler.rfile, self.max_body)
        except ChunkedTooLarge as exc:
            self.refuse(handler, 413, f"{exc}, over {self.max_body}", inbox, "too_large")
        except ChunkError as exc:
            self.refuse(handler, 400, f"malformed chunked body: {exc}", inbox, "bad_chunking")
        except OSError:
            self.refuse(handler, 400, "body not received", inbox, "unreadable")
        else:
            with self._lock:
                self.stats["chunked"] += 1  # bodies read chunked (parsed next)
            return raw
        return None

    def _deliver(self, handler: _Handler, inbox: Inbox, raw: bytes, entry: str) -> None:
        """Parse and queue one Notify whose sender (``entry``: "" for the camera itself, else
        the ``push_from`` entry it matched) and body were accepted."""
        result = self._parse(raw, handler.headers.get("Content-Type"))
        if result is None:
            self.refuse(handler, 400, "not a SOAP Notify", inbox, "not_notify")
            return
        if not inbox.put(result):
            self.refuse(handler, 503, f"{MAX_QUEUED} Notify already waiting", inbox, "queue_full")
            return
        sender = handler.client_address[0]
        with self._lock:
            self.stats["accepted"] += 1
            if entry:
                self.stats["accepted_push_from"] += 1
        if inbox.note_sender(sender, entry):
            log.info("camera events: Notify for camera %s accepted from %s (events.push_from "
                     "%s), not from its address %s", inbox.camera_id, sender, entry,
                     inbox.source_ip)  # fmt: skip
        handler.answer(200)

    @staticmethod
    def _parse(raw: bytes, content_type: str | None) -> PullResult | None:
        try:
            reply = soap_reply.read_reply(raw, soap_reply.charset_of(content_type))
            if not reply.is_envelope or reply.fault is not None:
                return None
            root = etree.fromstring(reply.body, parser=SAFE_PARSER)
        except (soap_reply.ReplyError, etree.XMLSyntaxError, ValueError):
            return None
        body = next((c for c in root if local(c.tag) == "Body"), None)
        notify = None if body is None or len(body) == 0 else body[0]
        if notify is None or local(notify.tag) != "Notify":
            return None
        return read_pull(notify)
