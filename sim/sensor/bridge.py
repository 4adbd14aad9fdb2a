"""A null-modem cable between two ptys: bytes written to one far end come out of the other.

Lets two programs that both want a serial *path* talk, e.g. our Modbus master and another
project's Modbus slave, without hardware or socat.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty


class NullModem:
    def __init__(self) -> None:
        self._fds: list[int] = []
        self.paths: tuple[str, str] = ("", "")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NullModem:
        pairs = [os.openpty(), os.openpty()]
        for master, slave in pairs:
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._fds += [master, slave]
        self.paths = (os.ttyname(pairs[0][1]), os.ttyname(pairs[1][1]))
        self._masters = (pairs[0][0], pairs[1][0])
        self._thread = threading.Thread(target=self._run, name="null-modem", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        a, b = self._masters
        peer = {a: b, b: a}
        while not self._stop.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.05)
            for fd in ready:
                with contextlib.suppress(OSError):
                    data = os.read(fd, 4096)
                    if data:
                        os.write(peer[fd], data)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> NullModem:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
