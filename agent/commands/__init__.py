"""Remote commands from the controller: decoded, checked for expiry, run and answered through the
outbox (:mod:`agent.commands.handler`); the commands themselves in :mod:`agent.commands.builtin`."""

from agent.commands.builtin import AgentView, register_builtins
from agent.commands.handler import CommandFailed, Commands
from agent.commands.logring import LogRing

__all__ = ["AgentView", "CommandFailed", "Commands", "LogRing", "register_builtins"]
