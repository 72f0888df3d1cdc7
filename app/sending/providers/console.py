"""The embedded default provider: it sends nothing and writes what it would send to the log.

It lets a new owner try every step without a provider account. Every message is
accepted, and every accepted message is reported delivered at the next status poll,
a moment later.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from app.sending.providers.base import (
    Accepted,
    Inbound,
    Outgoing,
    Rejected,
    Settings,
    StatusUpdate,
    Unseen,
)

log = logging.getLogger("vafa.console")


class ConsoleProvider:
    kind = "console"
    max_batch = 500
    max_p2p = 500
    uses_local_id = True
    # It keeps nothing, so every uncertain message is "never taken": sending it again
    # sends nothing either.
    max_lookup = 500
    local_ids_kept = timedelta(days=1)

    def __init__(self, settings: Settings | None = None, session=None):
        self.settings = settings or Settings()

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        for message in batch:
            log.info("SMS %s → %s: %s", message.sender, message.mobile, message.body)
        return [Accepted(message.local_id, f"console-{message.local_id}") for message in batch]

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        return [StatusUpdate(ref, "delivered") for ref in refs]

    def credit(self) -> int:
        return 0

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted | Unseen]:
        return [Unseen(local_id) for local_id in local_ids]

    def inbox(self) -> list[Inbound]:
        return []
