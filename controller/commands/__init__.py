"""Remote commands on the controller's side: the ``commands`` table that `kendali cmd` (another
process) writes and polls (:mod:`.store`), and the housekeeping job that publishes pending rows
and expires overdue ones (:mod:`.dispatch`)."""

from controller.commands.dispatch import CommandDispatch
from controller.commands.store import CommandRow, CommandStore

__all__ = ["CommandDispatch", "CommandRow", "CommandStore"]
