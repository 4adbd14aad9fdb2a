"""Staged rollouts of signed agent releases (docs/rollouts.md).

- :mod:`.policy`: waves, thresholds, timeout and maintenance windows;
- :mod:`.engine`: the pure decisions (:func:`~.engine.step`);
- :mod:`.observe`: the agent's side of an update, mapped to per-gateway statuses;
- :mod:`.store`: the ``rollouts`` and ``rollout_gateways`` tables (:mod:`.errors` what it raises);
- :mod:`.views`: rollouts as the API, the CLI and the console show them;
- :mod:`.manager`: creating rollouts (what the API and the CLI share);
- :mod:`.releases` and :mod:`.ranges`: the release files served to gateways;
- :mod:`.worker`: the loop under the controller's supervisor.

Nothing is imported here, so the controller's configuration can import :mod:`.config` cheaply.
"""
