"""The protocol every SMS provider adapter implements.

The dispatcher only knows this module: it hands an adapter a batch of ``Outgoing``
messages and learns, per message, whether the provider accepted it. Two exceptions
tell the dispatcher what it may do with a batch that did not get a clear answer:

- ``NotSent``: the provider certainly did not accept it (refused, 429, busy): retry later.
- ``MaybeSent``: it may have been accepted (timeout after sending, garbled reply): the
  messages become ``unknown`` and are never re-sent automatically.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    local_id: int
    mobile: str
    body: str
    sender: str


@dataclass(frozen=True)
class Accepted:
    local_id: int
    provider_ref: str


@dataclass(frozen=True)
class Rejected:
    local_id: int
    code: str
    reason: str


@dataclass(frozen=True)
class StatusUpdate:
    provider_ref: str
    status: str  # one of app.sending.models.STATUSES, or "sent" while at the operator


class NotSent(Exception):
    """The provider certainly did not accept the batch; it may be sent again later."""


class MaybeSent(Exception):
    """The batch may have reached the provider; it must not be sent again blindly."""


class Provider(Protocol):
    name: str
    max_batch: int

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]: ...

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]: ...

    def credit(self) -> int: ...
