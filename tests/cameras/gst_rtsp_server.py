"""A tiny RTSP server built on Debian's GStreamer RTSP server, run with /usr/bin/python3.

It is the independent stream source for the reader tests: not our code, so the reader is tested
against a real RTSP/RTP implementation. It prints ``READY <port>`` once it listens and reads
commands on stdin: ``pattern <name>`` switches the videotestsrc pattern (e.g. ``black``,
``white``, ``ball``, ``smpte``), ``quit`` stops it. EOF on stdin also stops it, so a dying test
never leaves it behind.
"""

import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--pattern", default="smpte")
    args = parser.parse_args()

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc name=src is-live=true pattern={args.pattern} horizontal-speed=4 "
        f"! video/x-raw,format=I420,width={args.width},height={args.height},"
        f"framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    sources = []
    pattern = [args.pattern]

    def on_configure(_factory, media):
        src = media.get_element().get_by_name("src")
        src.set_property("pattern", pattern[0])
        sources.append(src)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print("FAILED attach", flush=True)
        sys.exit(1)

    def set_pattern(name):
        pattern[0] = name
        for src in sources:
            src.set_property("pattern", name)
        return False

    def read_stdin():
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["pattern"] and len(words) == 2:
                GLib.idle_add(set_pattern, words[1])
            elif words[:1] == ["quit"]:
                break
        GLib.idle_add(loop.quit)

    threading.Thread(target=read_stdin, daemon=True).start()
    print(f"READY {args.port}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
