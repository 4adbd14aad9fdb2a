"""The one pydantic base for every Kendali model: wire messages, config files, device profiles.

Unknown keys are errors, not silently ignored defaults (a typo in a technician's YAML or a field
a newer agent sends must fail loudly, naming the field), and instances are frozen so a config or
a decoded message cannot be changed behind its reader's back. Floats are finite.

It is a package of its own, below everything, because the three lowest packages (``protocol``,
``common``, ``firmware_profiles``) may not import one another, yet all of them and everything
above share this base. ``protocol.envelope.WireModel`` is this class under its wire name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """Forbid unknown fields, freeze instances; fields may be given by name or by alias (device
    profiles spell some keys as their datasheets do)."""

    # allow_inf_nan off: JSON has no Infinity, but a parser that accepts "1e999" makes one, and a
    # timestamp of +inf once passed "gt=0" and sorted after every real time.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
