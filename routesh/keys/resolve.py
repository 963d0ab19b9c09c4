"""The key a request sends: the documented lookup order, and a restricted profile's shared key refused."""

from __future__ import annotations

from ..core.config import Config, Provider
from ..core.errors import KeyMissing, PolicyRefusal


def key_for(profile: str, provider: Provider, config: Config | None = None) -> str | None:
    """The key to send, by the documented lookup order; KeyMissing names the fix.

    With the config, a restricted profile whose key another profile also resolves to (and that
    routes.yaml does not share) is refused here, with the values compared: PolicyRefusal, exit 3.
    """
    if not provider.needs_key or provider.auth == "subscription":
        return None
    from .entries import KeyringUnavailable
    from .secrets import how_to_set, lookup_key

    try:
        found = lookup_key(profile, provider, strict=True)
    except KeyringUnavailable as exc:
        also = f"; or export {provider.key_env}" if provider.key_env else ""
        raise KeyMissing(f"no key for provider '{provider.name}' in profile '{profile}': the keyring cannot be "
                         f"used: {exc.problem.rstrip('.')}{also}") from None
    if not found.present:
        fix = found.problem if found.source != "none" and found.problem else how_to_set(profile, provider)
        raise KeyMissing(f"no key for provider '{provider.name}' in profile '{profile}': {fix}")
    if config is not None and len(config.profiles) > 1:
        from ..core.keyshare import refusal, restricted, shared_keys
        from .secrets import list_keys

        if restricted(config.profiles[profile]):
            shared = shared_keys(config, profile, list_keys(config, fetch=True), [provider.name])
            why = refusal(config, profile, shared)
            if why is not None:
                raise PolicyRefusal(f"refused, nothing was sent: {why}")
    return found.value
