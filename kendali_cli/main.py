"""The ``kendali`` command: one entry point, a subcommand per capability."""

from __future__ import annotations

import typer

from kendali_cli import cameras, core, detect, sensors

app = typer.Typer(
    name="kendali",
    help="Kendali: edge-device fleet for city command centers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sim_app = typer.Typer(
    help="Simulators: ONVIF/RTSP cameras and serial sensors.", no_args_is_help=True
)

core.register(app)
app.add_typer(cameras.app, name="cameras")
app.add_typer(sensors.app, name="sensors")
app.command("detect")(detect.detect)
sim_app.command("camera")(cameras.sim_camera)
sim_app.command("sensor")(sensors.sim_sensor)
app.add_typer(sim_app, name="sim")


if __name__ == "__main__":
    app()
