"""Processes and waits the end-to-end tests share."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from controller.store.repo import Store

KENDALI = [sys.executable, "-m", "kendali_cli.main"]
T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.1, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


class Proc:
    """A kendali subprocess with its log file; stop() is graceful, kill() is kill -9."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, ready: str | None = None, timeout: float = 20.0) -> Proc:
        """Start; with ``ready``, wait until that text appears in the log once more."""
        seen = self.text().count(ready) if ready else 0
        out = self.log.open("ab")
        self.popen = subprocess.Popen([*KENDALI, *self.args], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        if ready:
            wait_for(
                lambda: self.text().count(ready) > seen, timeout, what=f"{ready!r} in {self.log}"
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        rc = self.popen.returncode
        self.popen = None
        return rc

    def kill(self) -> None:
        if self.popen is not None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            self.popen = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)  # configs may hold passwords: the agent refuses them open to others
    return path


def agent_proc(tmp: Path, gateway_id: str, port: int, **overrides: Any) -> Proc:
    cfg: dict[str, Any] = {
        "gateway_id": gateway_id,
        "broker": {"port": port, "keepalive_s": 2, "backoff_initial_s": 0.2, "backoff_max_s": 2.0},
        "outbox": {"path": str(tmp / f"{gateway_id}-outbox.db"), "durability": "normal"},
        "health": {"interval_s": 0.5},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            cfg.setdefault(section, {}).update(values)
        else:
            cfg[section] = values
    path = write_yaml(tmp / f"{gateway_id}.yaml", cfg)
    return Proc(["agent", "--config", str(path)], tmp / f"{gateway_id}.log")


def controller_proc(
    tmp: Path, port: int, client_id: str = "ctl-test", url: str | None = None
) -> tuple[Proc, Store]:
    url = url or f"sqlite:///{tmp / 'controller.db'}"
    path = write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {"port": port, "client_id": client_id},
            "database": {"url": url},
            "presence": {"check_interval_s": 0.2, "grace_s": 1.0},
            "api": {"port": 0},
        },
    )
    store = Store(url)
    return ControllerProc(["controller", "--config", str(path)], tmp / "controller.log"), store


class ControllerProc(Proc):
    """Starting returns once the controller's subscription is in place, so the broker queues
    everything gateways send from then on for its persistent session."""

    def start(self, ready: str | None = "subscribed to", timeout: float = 20.0) -> Proc:
        return super().start(ready, timeout)


def gateway(store: Store, gid: str) -> dict[str, Any] | None:
    return next((r for r in store.gateway_rows() if r["id"] == gid), None)


# -- a small disk of our own, to fill -----------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(mount_point: Path, size: str = "4m") -> Iterator[Path | None]:
    """A tmpfs of ``size`` mounted at ``mount_point`` (made here), so filling it touches
    nothing else; yields None where mounting is not allowed (not root), for the test to skip."""
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Write a filler file until the file system says ENOSPC, then give back ``leave`` bytes
    (rounded by the file system to its pages)."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as f:  # unbuffered: close() has nothing left to fail
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


class Remountable:
    """A tmpfs of the test's own that the test turns read-only and back (``mount -o remount``).

    The kernel refuses to remount read-only while any file on it is open for writing ("mount
    point is busy"): a program that keeps a database open meets a read-only disk only through
    the file system's own emergency remount (see ``ext4_emergency_ro``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _remount(self, mode: str) -> None:
        done = subprocess.run(
            ["mount", "-o", f"remount,{mode}", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cannot remount {self.path} {mode}: {done.stderr.strip()}")

    def read_only(self) -> None:
        self._remount("ro")

    def writable(self) -> None:
        self._remount("rw")

    @contextlib.contextmanager
    def read_only_for(self) -> Iterator[None]:
        self.read_only()
        try:
            yield
        finally:
            self.writable()


class Ext4Disk:
    """A small ext4 file system in an image file of the test's own, mounted over a loop device
    with ``errors=remount-ro``, so the test can make the kernel do what it does on a failing SD
    card: :meth:`fail` reports a file-system error and ext4 turns the disk read-only under open
    files (which ``mount -o remount,ro`` refuses to do); only unmounting, ``e2fsck`` and
    mounting again (:meth:`repair`, what an operator or a reboot does) make it writable."""

    def __init__(self, image: Path, path: Path) -> None:
        self.image, self.path = image, path

    def mount(self) -> bool:
        done = subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.path)],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def unmount(self) -> None:
        done = subprocess.run(["umount", str(self.path)], capture_output=True, check=False)
        if done.returncode != 0 and os.path.ismount(self.path):  # still in use: detach anyway
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)

    def trigger(self) -> Path:
        """The kernel's switch that reports a file-system error on this disk."""
        device = Path(
            subprocess.run(
                ["findmnt", "-n", "-o", "SOURCE", str(self.path)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        ).name
        return Path(f"/sys/fs/ext4/{device}/trigger_fs_error")

    def fail(self) -> None:
        self.trigger().write_text("kendali test\n")

    def repair(self) -> None:
        self.unmount()
        subprocess.run(["e2fsck", "-fy", str(self.image)], capture_output=True, check=False)
        if not self.mount():
            raise RuntimeError(f"cannot mount {self.image} again after e2fsck")


@contextlib.contextmanager
def ext4_disk(directory: Path, size: str = "16M") -> Iterator[Ext4Disk | None]:
    """An :class:`Ext4Disk` under ``directory``; None where it cannot be made here (no root, no
    loop devices, no mkfs.ext4 or no trigger_fs_error), for the test to skip."""
    directory.mkdir(parents=True, exist_ok=True)
    image, mnt = directory / "disk.img", directory / "mnt"
    mnt.mkdir()
    made = subprocess.run(
        ["sh", "-c", f"truncate -s {size} {image} && mkfs.ext4 -q -F {image}"],
        capture_output=True,
        check=False,
    )
    disk = Ext4Disk(image, mnt)
    if made.returncode != 0 or not disk.mount():
        yield None
        return
    if not disk.trigger().exists():  # a kernel without ext4's error trigger
        disk.unmount()
        yield None
        return
    try:
        yield disk
    finally:
        disk.unmount()


class FaultyDisk:
    """A folder served by the test-only FUSE file system in tests/faults/faultfs.py, whose
    writes fail with EIO (``fail("eio")``) or EROFS (``fail("erofs")``) until :meth:`heal`."""

    def __init__(self, path: Path, switch: Path) -> None:
        self.path, self.switch = path, switch

    def fail(self, mode: str = "eio") -> None:
        self.switch.write_text(mode)

    def heal(self) -> None:
        self.switch.write_text("ok")


@contextlib.contextmanager
def faulty_disk(directory: Path) -> Iterator[FaultyDisk | str]:
    """Mount a :class:`FaultyDisk` under ``directory`` in a child process; yields the reason as
    a string where FUSE cannot be mounted here (for the test to skip). Always unmounts and ends
    the child, whatever the test did."""
    if not Path("/dev/fuse").exists():
        yield "no /dev/fuse on this machine"
        return
    if importlib.util.find_spec("mfusepy") is None:
        yield "mfusepy is not installed (make venv installs it)"
        return
    backing, mnt, switch = directory / "backing", directory / "mnt", directory / "switch"
    for folder in (backing, mnt):
        folder.mkdir(parents=True, exist_ok=True)
    switch.write_text("ok")
    log = directory / "faultfs.log"
    root = Path(__file__).resolve().parents[1]
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.faultfs", str(backing), str(mnt), str(switch)],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mnt) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not os.path.ismount(mnt):
            yield f"cannot mount the FUSE test file system: {log.read_text()[-300:]!r}"
            return
        yield FaultyDisk(mnt, switch)
    finally:
        switch.write_text("ok")  # let anything still writing finish before the unmount
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
