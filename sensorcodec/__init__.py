"""Serial sensor codecs, shared by the agent (reading devices) and the simulator (being them).

Pure functions and incremental parsers over bytes and text, driven by a firmware profile: Modbus
RTU framing and register word orders, binary frames with sync and checksum, NMEA 0183 and
key=value lines, and raw-to-reading scaling. No I/O, so a parser can be fuzzed with arbitrary
bytes. One codec for both sides means a simulator cannot pass a test the agent would fail on the
wire; it sits below ``agent`` and ``sim`` and imports only ``firmware_profiles``.
"""
