"""The agent's self-update: a persisted state machine (docs/agent-update.md).

Deliberately empty of imports: :mod:`agent.update.launcher` runs before any agent code and must
keep working when the installed agent is broken, so the modules it uses (``state``, ``slots``,
``launcher``) import only the standard library. The updater that runs inside the agent
(``updater``, ``download``, ``install``, ``trial``) is imported by name where it is needed.
"""
