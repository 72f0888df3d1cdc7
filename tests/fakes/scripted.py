"""A provider adapter whose answers a test writes in advance.

It stands in for the provider when the engine is under test (the adapters have their
own tests against fake servers): each ``send`` takes the next scripted answer — accept
all, a list of per-message outcomes, or an exception to raise — and records the batch.
"""

from collections import deque
from collections.abc import Callable, Sequence
from datetime import timedelta

from app.sending.providers.base import (
    Accepted,
    Inbound,
    Outgoing,
    ProviderError,
    Rejected,
    Settings,
    StatusUpdate,
    Unseen,
)

ACCEPT = "accept"


class ScriptedProvider:
    kind = "scripted"
    max_batch = 3
    max_p2p = 2
    uses_local_id = True
    max_lookup = 2
    local_ids_kept = timedelta(hours=12)

    answers: deque = deque()
    calls: list[list[Outgoing]] = []
    delivery: dict[str, str] = {}
    known: dict[int, str] = {}
    lookups: list[list[int]] = []
    replies: list[Inbound] = []
    credit_rials: int | ProviderError = 10**9

    def __init__(self, settings: Settings | None = None, session=None):
        self.settings = settings

    @classmethod
    def install(cls, monkeypatch, **account_fields):
        """Register the kind for one test, reset the script, add an account; return it."""
        from app.extensions import db
        from app.sending.models import ProviderAccount
        from app.sending.providers import KINDS

        monkeypatch.setitem(KINDS, "scripted", "tests.fakes.scripted:ScriptedProvider")
        cls.reset()
        account = ProviderAccount(
            name="scripted",
            kind="scripted",
            requests_per_second=1000,
            price_per_part=100,
            **{"senders": "3000123", **account_fields},
        )
        db.session.add(account)
        return account

    @classmethod
    def reset(cls) -> None:
        cls.answers = deque()
        cls.calls = []
        cls.delivery = {}
        cls.known = {}
        cls.lookups = []
        cls.replies = []
        cls.credit_rials = 10**9

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        type(self).calls.append(list(batch))
        answer = self.answers.popleft() if self.answers else ACCEPT
        if isinstance(answer, ProviderError):
            raise answer
        if isinstance(answer, Callable):
            return answer(batch)
        accepted = [Accepted(m.local_id, f"ref-{m.local_id}") for m in batch]
        for item in accepted:
            type(self).known[item.local_id] = item.provider_ref
        return accepted

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        return [StatusUpdate(ref, self.delivery.get(ref, "sent")) for ref in refs]

    def credit(self) -> int:
        if isinstance(self.credit_rials, ProviderError):
            raise self.credit_rials
        return self.credit_rials

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted | Unseen]:
        """Known ids were taken; any other was never seen (as a provider that keeps local
        ids and sends a repeated one once would answer)."""
        type(self).lookups.append(list(local_ids))
        return [Accepted(i, self.known[i]) if i in self.known else Unseen(i) for i in local_ids]

    def inbox(self) -> list[Inbound]:
        replies, type(self).replies = list(self.replies), []
        return replies
