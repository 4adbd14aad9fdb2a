"""What the gateway is: sent in the birth message so the registry knows each box."""

from __future__ import annotations

import platform
import socket
from importlib.metadata import PackageNotFoundError, version

import psutil

from protocol.messages import Inventory


def agent_version() -> str:
    try:
        return version("kendali")
    except PackageNotFoundError:
        return "0+unknown"


def host_inventory() -> Inventory:
    uname = platform.uname()
    return Inventory(
        hostname=socket.gethostname()[:255],
        os=platform.platform(terse=True)[:255],
        kernel=uname.release[:255],
        arch=uname.machine[:64],
        cpu_count=psutil.cpu_count() or 0,
        memory_total=psutil.virtual_memory().total,
        python=platform.python_version(),
        boot_time=psutil.boot_time(),
    )
