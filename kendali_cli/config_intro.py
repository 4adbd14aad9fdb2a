"""The hand-written start of ``docs/configuration.md``; the field tables after it are generated
(:mod:`kendali_cli.config_reference`)."""

INTRO = """
# Configuration reference

<!-- Generated: python -m kendali_cli.config_reference > docs/configuration.md
     Do not edit by hand: tests/config_docs fails when this page and the models differ. -->

This page is generated from the configuration models by
`python -m kendali_cli.config_reference > docs/configuration.md`; a test fails when it is out of
date. The introduction is written by hand in `kendali_cli/config_intro.py`, the tables come from
the models (type, default, bounds and description of every field).

## The two files

- `agent.yaml` (e.g. `/etc/kendali/agent.yaml`), read by `kendali agent --config agent.yaml` on
  each gateway: the gateway's identity, its broker, its cameras and sensors.
- `controller.yaml` (e.g. `/etc/kendali/controller.yaml`), read by
  `kendali controller --config controller.yaml` in the command center: broker, database,
  ingest, retention, presence.

Unknown keys are errors in both files, so a misspelt key stops the process at start with the
field's path instead of being ignored. Every field below has a default except `gateway_id`, the
`id` of each camera and sensor, and a sensor's `profile` and `port`.

**The bootstrap.** `agent.yaml` is the bootstrap of a gateway: `gateway_id` and `broker` (with
`broker.tls`) are what the agent needs before it can hear anything from the command center, so
they always stay in this local file. Cameras, sensors and their rules, health and outbox settings
are written here too for a gateway configured by hand; when the controller sends a gateway its
configuration, those sections are what it changes.

## Where things go in agent.yaml

- **Broker and TLS**: `broker.host`, `broker.port` (8883 with TLS) and `broker.tls` with the CA,
  this gateway's certificate and its key (mutual TLS). `broker.username` defaults to the
  `gateway_id`; a username without a password is rejected.
- **Sensors**: under `sensors.sensors`, a list, one entry per serial device: its `id`, the device
  `profile` (the model name of a file in `firmware_profiles/profiles/`, see
  [sensors.md](sensors.md)), the `port`, and its edge `rules` (`thresholds` with their
  `levels`, `rate_of_rise`, `stale_after_s`). A rule may only name a resource the profile has.
  `sensors.telemetry_interval_s` sits beside the list.
- **Cameras**: `cameras`, a list at the top level, one entry per camera: its `id`, how to reach it
  (`onvif_url`, or `host` + `port`, or a fixed `rtsp_url`), `username` and `password` (both or
  neither), stream choice, tamper thresholds and snapshot limits ([cameras.md](cameras.md)).
- **Motion**: inside a camera, under `cameras[].motion`; absent means no motion detection on
  that camera. Zones go in `cameras[].motion.zones` (polygons in relative 0..1 coordinates),
  each zone's arming times in `cameras[].motion.zones[].schedule` ([motion.md](motion.md)).

A gateway with one camera with a night-time motion zone, one flood sensor with Siaga levels and
mutual TLS to the broker:

```yaml agent
gateway_id: gw-01
broker:
  host: mqtt.example.org
  port: 8883
  tls:
    ca_file: /var/lib/kendali/tls/ca.pem      # as kendali provision enroll writes them
    cert_file: /var/lib/kendali/tls/gateway.crt
    key_file: /var/lib/kendali/tls/gateway.key
sensors:
  sensors:
    - id: river-level
      profile: mcu_kv
      port: /dev/serial/by-path/platform-xhci-hcd.0-usb-0:1.2:1.0-port0
      rules:
        thresholds:
          - resource: water_level
            levels:
              - {name: siaga_iii, value: 80, severity: info}
              - {name: siaga_ii, value: 150, severity: warning}
              - {name: siaga_i, value: 200, severity: critical}
cameras:
  - id: gate
    onvif_url: http://10.0.0.5/onvif/device_service
    username: kendali
    password: change-me
    motion:
      zones:
        - name: yard
          polygon: [[0.3, 0.55], [1, 0.55], [1, 1], [0.3, 1]]
          schedule: [{start: "18:00", end: "06:00"}]
```

Complete files that together use every capability are in `deploy/examples/`.

## Checking a file

```
kendali config validate agent.yaml                # an agent file
kendali config validate controller.yaml --controller
kendali agent --config agent.yaml --check         # on the gateway, also its TLS files
```

They start nothing: they read the file, check every field, the cross-field rules (unique ids,
ordered levels, both halves of a credential) and each sensor against its device profile, and
print one `ok: ...` line with a summary (exit 0) or one line per problem with the field's path,
e.g. `cameras.0.password: ...` (exit 2). `kendali agent --check` also checks what the agent
checks on the gateway before it starts (the TLS files are readable, a file with passwords is
not open to others) but takes no lock and creates nothing.

## Reading the tables

A path such as `cameras[].motion.zones[]` means: the `cameras` list, any entry, its `motion`
section, its `zones` list, any entry. Bounds are inclusive (`>=`, `<=`) or exclusive (`>`, `<`)
as written; a list's bound counts its entries. Passwords are secret strings: they never appear
in logs, health reports or errors.
"""
