"""Provider adapters by name."""

from app.sending.providers.base import Provider
from app.sending.providers.console import ConsoleProvider

PROVIDERS: dict[str, type] = {"console": ConsoleProvider}


def get_provider(name: str) -> Provider:
    """The adapter configured under ``name``."""
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise LookupError(f"unknown SMS provider {name!r}") from None
