"""A pty-backed serial sensor that speaks a profile's protocol, with scripted values and faults."""

from sim.sensor.device import PtySensor
from sim.sensor.faults import FaultPlan, parse_fault
from sim.sensor.responders import make_responder
from sim.sensor.scripts import Script, parse_script

__all__ = ["FaultPlan", "PtySensor", "Script", "make_responder", "parse_fault", "parse_script"]
