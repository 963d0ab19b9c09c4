"""Work and personal never mix: find profiles that resolve to the same credential, and refuse where that matters.

Two profiles share a credential when both take a provider's key from the same environment variable,
or when their keys have the same value (compared by hash). That is fine only where routes.yaml says
so (`share_keys_with`); otherwise the dry-run, `/profile`, `keys list` and `doctor` say it, and a
restricted profile (one with allow_providers or allow_routes) refuses to send with it (exit 3).
Pure: the caller passes the key rows (secrets.list_keys), so nothing here touches the keyring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .config import Config, Profile


class KeyFacts(Protocol):
    """What a key row tells about one (profile, provider) key, never the key itself."""

    profile: str
    provider: str
    source: str
    present: bool
    env_var: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class SharedKey:
    """One of a profile's keys that another profile resolves to as well."""

    provider: str
    other: str  # the other profile
    other_provider: str
    how: str  # "both read $ANTHROPIC_API_KEY" or "the same key value"
    allowed: bool  # routes.yaml shares keys between these two profiles (share_keys_with)

    def sentence(self, profile: str) -> str:
        """One line for people: which key, which profile, how, and whether routes.yaml allows it."""
        theirs = f"{self.other}/{self.other_provider}"
        base = f"the {self.provider} key of profile {profile} is also {theirs}'s ({self.how})"
        return base + ("; shared on purpose (share_keys_with)" if self.allowed else "")

    def public(self) -> dict[str, object]:
        """The JSON view for --dry-run --json and `keys list --json`."""
        return {"provider": self.provider, "profile": self.other, "other_provider": self.other_provider,
                "how": self.how, "allowed": self.allowed}


def restricted(profile: Profile) -> bool:
    """A profile that limits its providers or routes: the kind that must not run on another account's key."""
    return profile.allow_providers is not None or profile.allow_routes is not None


def may_share(config: Config, a: str, b: str) -> bool:
    """Whether routes.yaml lets profiles a and b use the same credentials (either side saying so is enough)."""
    pa, pb = config.profiles.get(a), config.profiles.get(b)
    return bool(pa and b in pa.share_keys_with) or bool(pb and a in pb.share_keys_with)


def _may_use(config: Config, profile: str, provider: str) -> bool:
    prof = config.profiles.get(profile)
    return prof is not None and (prof.allow_providers is None or provider in prof.allow_providers)


def _same(mine: KeyFacts, theirs: KeyFacts) -> str | None:
    if not (mine.present and theirs.present):
        return None
    if mine.source == theirs.source == "env" and mine.env_var and mine.env_var == theirs.env_var:
        return f"both read ${mine.env_var}"
    if mine.fingerprint and mine.fingerprint == theirs.fingerprint:
        return "the same key value"
    return None


def shared_keys(config: Config, profile: str, rows: Iterable[KeyFacts],
                providers: Iterable[str] | None = None) -> tuple[SharedKey, ...]:
    """Each of the profile's keys (of the given providers, default all) that another profile's key equals."""
    rows = [r for r in rows if _may_use(config, r.profile, r.provider)]  # a key a profile cannot send is no risk
    wanted = set(providers) if providers is not None else None
    mine = [r for r in rows if r.profile == profile and (wanted is None or r.provider in wanted)]
    found: list[SharedKey] = []
    for m in mine:
        for t in rows:
            if t.profile == profile:
                continue
            how = _same(m, t)
            if how is not None:
                found.append(SharedKey(m.provider, t.profile, t.provider, how, may_share(config, profile, t.profile)))
    return tuple(found)


def refusal(config: Config, profile: str, shared: Iterable[SharedKey]) -> str | None:
    """Why a restricted profile may not send with these keys, or None when it may."""
    prof = config.profiles[profile]
    if not restricted(prof):
        return None
    bad = [s for s in shared if not s.allowed]
    if not bad:
        return None
    s = bad[0]
    return (f"{s.sentence(profile)}: profile '{profile}' will not send with another profile's key; give it its "
            f"own (`routesh keys set {s.provider} --profile {profile}`), or add `share_keys_with: [{s.other}]` "
            f"to profile {profile} if both really are one account")
