"""The embedded default provider: it sends nothing and writes what it would send to the log.

It lets a new owner try every step without a provider account. Every message is
accepted, and every accepted message is reported delivered at the next status poll,
a moment later.
"""

import logging
from collections.abc import Sequence

from app.sending.providers.base import Accepted, Outgoing, Rejected, StatusUpdate

log = logging.getLogger("vafa.console")


class ConsoleProvider:
    name = "console"
    max_batch = 500

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        accepted: list[Accepted | Rejected] = []
        for message in batch:
            log.info("SMS %s → %s: %s", message.sender, message.mobile, message.body)
            accepted.append(Accepted(message.local_id, f"console-{message.local_id}"))
        return accepted

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        return [StatusUpdate(ref, "delivered") for ref in refs]

    def credit(self) -> int:
        return 0
