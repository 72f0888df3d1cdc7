"""Provider adapters by kind.

Adapters are imported when first used, so a provider module's dependencies and bugs
stay out of processes that never talk to it.
"""

import threading
from importlib import import_module

from app.sending.providers.base import Provider, Settings

KINDS = {
    "console": "app.sending.providers.console:ConsoleProvider",
    "kavenegar": "app.sending.providers.kavenegar:KavenegarProvider",
    "melipayamak": "app.sending.providers.melipayamak:MelipayamakProvider",
    "ippanel": "app.sending.providers.ippanel:IppanelProvider",
    "smsir": "app.sending.providers.smsir:SmsirProvider",
    "ghasedak": "app.sending.providers.ghasedak:GhasedakProvider",
}


def provider_class(kind: str) -> type:
    try:
        module, name = KINDS[kind].split(":")
    except KeyError:
        raise LookupError(f"unknown SMS provider kind {kind!r}") from None
    return getattr(import_module(module), name)


def make_provider(kind: str, settings: Settings | None = None) -> Provider:
    """An adapter of ``kind`` for one account."""
    return provider_class(kind)(settings or Settings())


class ThreadAdapters(threading.local):
    """Each thread's adapters, one per account's settings, kept from one request to the
    next: a thread's connections (and its session's reading of the environment) are
    reused, while a changed key or address gets an adapter of its own."""

    def __init__(self):
        self.adapters: dict[tuple[str, Settings], Provider] = {}

    def get(self, kind: str, settings: Settings) -> Provider:
        adapter = self.adapters.get((kind, settings))
        if adapter is None:
            adapter = self.adapters[kind, settings] = make_provider(kind, settings)
        return adapter
