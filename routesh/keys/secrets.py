"""Provider keys in the OS keyring, one entry per (profile, provider), with key_env as fallback.

Naming scheme (a contract: users find their keys with these names)
--------------------------------------------------------------------
Every key is one Secret Service item (one Keychain / Credential Manager entry elsewhere):

    service  = "routesh"
    username = "<profile>/<provider>"        e.g. "work-approved/anthropic"

Items written by routesh on the Secret Service also carry the attributes
``application=routesh``, ``profile=<profile>``, ``provider=<provider>`` and the label
``routesh: <provider> key for profile <profile>``.  Lookups match on service and username
only, so entries made with other tools are found too::

    secret-tool lookup service routesh username work-approved/anthropic
    secret-tool store --label 'routesh: anthropic key for profile work-approved' \
        service routesh username work-approved/anthropic
    secret-tool search --all service routesh
    keyring get routesh work-approved/anthropic        # the python `keyring` CLI

Lookup order: the profile's keyring entry, then the provider's ``key_env`` variable (after the
profile's override), then none.  Providers with ``key: none`` or ``auth: subscription`` need no
key and the keyring is not consulted.

Backends: on Linux and other Unix routesh talks to the Secret Service (gnome-keyring, KeePassXC,
KWallet >= 5.97) over the D-Bus session bus directly with jeepney, which is much faster than
`keyring`'s backend discovery and never prompts unless asked to.  ``PYTHON_KEYRING_BACKEND``,
a ``python_keyring/keyringrc.cfg`` and ``KEYRING_PROPERTY_*`` are honoured through the `keyring`
library; on macOS and Windows its native backend is used.  keyring's fail and null backends,
plaintext files (keyrings.alt) and any backend keyring itself rates as not recommended are
refused: routesh never falls back to a file.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .backends import _backend_label, _open_store, _Store, _StoreOrProblem
from .entries import APPLICATION, KeyLookup, KeyringStatus, KeyringUnavailable, KeyRow, Secret

if TYPE_CHECKING:
    from routesh.core.config import Config, Provider


def username_for(profile: str, provider: str) -> str:
    """The keyring username of a (profile, provider) pair; see the naming scheme above."""
    for what, name in (("profile", profile), ("provider", provider)):
        if not name or "/" in name or any(c.isspace() or not c.isprintable() for c in name):
            raise ValueError(f"a {what} name used in the keyring must be non-empty, without '/' or spaces: {name!r}")
    return f"{profile}/{provider}"


def unusable_key(value: str) -> str | None:
    """Why a key value cannot go into a header (a line break would inject one), or None when it can."""
    for c in value:
        if c in "\r\n":
            return "contains a line break (a key must be one line; a pasted newline?)"
        if not c.isprintable() or not c.isascii() or c.isspace():
            return "contains a control character, a space or a non-ASCII character (a key is printable ASCII)"
    return None


def key_needed(provider: Provider) -> bool:
    """False for providers that take no key: `key: none`, or a subscription login Claude Code owns."""
    return provider.needs_key and provider.auth != "subscription"


# lookup_key's switches:
#   strict=False  never raises for an unusable keyring: the result falls through to key_env/none and
#                 `problem` says why (for --dry-run, `keys list`, doctor, the shell's status).
#   strict=True   (a real request) raises KeyringUnavailable, unless the only problem is that this
#                 machine has no keyring at all (SOFT_KINDS: no D-Bus, no Secret Service, keyring
#                 disabled) and key_env is set.  A locked entry always raises: it must win over env.
#   fetch=False   presence only: no secretstorage/cryptography import, no DH session (~40 ms less);
#                 `value` and `masked` are then empty for keyring keys.
#   prompt=True   lets the Secret Service show its unlock prompt (interactive `keys set` on a desktop).
def lookup_key(
    profile: str, provider: Provider, *, strict: bool = False, fetch: bool = True, prompt: bool = False
) -> KeyLookup:
    """The key a request under `profile` would use for `provider` (already overridden by the profile)."""
    username_for(profile, provider.name)  # bad names are the caller's bug, raised before any I/O
    if not key_needed(provider):
        return KeyLookup(profile, provider.name, "none", False, provider.key_env, needed=False)
    with _StoreOrProblem(prompt) as store:
        return _lookup(profile, provider, store, strict=strict, fetch=fetch)


def _lookup(
    profile: str, provider: Provider, store: _Store | KeyringUnavailable, *, strict: bool, fetch: bool
) -> KeyLookup:
    """lookup_key over an already opened store (or the reason there is none), so lists share one."""
    user = username_for(profile, provider.name)
    env_var = provider.key_env
    if not key_needed(provider):
        return KeyLookup(profile, provider.name, "none", False, env_var, needed=False)
    problem = store if isinstance(store, KeyringUnavailable) else None
    if problem is None:
        try:
            present, value = store.find(user, fetch=fetch)  # type: ignore[union-attr]
            if present and value is not None and (bad := unusable_key(value)):
                fix = f"store it again with `routesh keys set {provider.name} --profile {profile}`"
                return KeyLookup(profile, provider.name, "keyring", False, env_var,
                                 problem=f"the keyring entry {user} {bad}; {fix}")
            if present:
                return KeyLookup(profile, provider.name, "keyring", True, env_var, secret=_secret_or_none(value))
        except KeyringUnavailable as exc:
            problem = exc
    if problem is not None:
        problem = problem.with_env_hint(env_var)
        if strict and not problem.soft:
            raise problem from None
    env_value = os.environ.get(env_var) if env_var else None
    if env_value and (bad := unusable_key(env_value)):
        return KeyLookup(profile, provider.name, "env", False, env_var,
                         problem=f"${env_var} {bad}; set it to the key alone, e.g. "
                                 f"export {env_var}=\"$(printf %s \"${env_var}\" | tr -d '[:space:][:cntrl:]')\"")
    if env_value:
        note = str(problem) if problem else None
        return KeyLookup(profile, provider.name, "env", True, env_var, problem=note, secret=Secret(env_value))
    if problem is not None:
        if strict:
            raise problem from None
        return KeyLookup(profile, provider.name, "none", False, env_var, problem=str(problem))
    return KeyLookup(profile, provider.name, "none", False, env_var)


def set_key(profile: str, provider_name: str, secret: str, *, prompt: bool = False) -> None:
    """Store (or replace) the key of a (profile, provider) pair in the OS keyring."""
    user = username_for(profile, provider_name)
    value = secret.strip()
    if not value:
        raise ValueError("the key is empty")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("the key contains spaces or control characters; paste only the key itself")
    attributes = {"application": APPLICATION, "profile": profile, "provider": provider_name}
    label = f"routesh: {provider_name} key for profile {profile}"
    with _open_store(prompt=prompt) as store:
        store.store(user, value, label, attributes)


def delete_key(profile: str, provider_name: str, *, prompt: bool = False) -> bool:
    """Remove the keyring entry of a (profile, provider) pair; False if there was none."""
    user = username_for(profile, provider_name)
    with _open_store(prompt=prompt) as store:
        return store.remove(user)


def list_keys(
    config: Config, profiles: list[str] | None = None, *, strict: bool = False, fetch: bool = True,
    providers: list[str] | None = None,
) -> tuple[KeyRow, ...]:
    """Per profile and provider (default: all of both), where the key would come from and its masked tail."""
    names = profiles if profiles is not None else list(config.profiles)
    rows: list[KeyRow] = []
    with _StoreOrProblem(prompt=False) as store:  # one connection and one crypto session for the table
        for pname in names:
            prof = config.profiles[pname]
            for provider_name in providers if providers is not None else config.providers:
                provider = config.provider_in(prof, provider_name)
                found = _lookup(pname, provider, store, strict=strict, fetch=fetch)
                rows.append(
                    KeyRow(pname, provider_name, found.source, found.present, found.env_var, found.masked,
                           found.needed, found.problem, found.fingerprint)
                )
    return tuple(rows)


def keyring_status() -> KeyringStatus:
    """Probe the keyring for `routesh doctor` without reading any key or prompting."""
    try:
        with _open_store(prompt=False) as store:
            return store.status()
    except KeyringUnavailable as exc:
        return KeyringStatus(backend=_backend_label(), usable=False, kind=exc.kind, problem=str(exc))


def how_to_set(profile: str, provider: Provider) -> str:
    """The one-line fix for a missing key, naming both ways to provide it."""
    cmd = f"routesh keys set {provider.name} --profile {profile}"
    return f"run `{cmd}`" + (f", or export {provider.key_env}" if provider.key_env else "")


def _secret_or_none(value: str | None) -> Secret | None:
    """Wrap a fetched value at once so it never travels bare."""
    return Secret(value) if value else None
