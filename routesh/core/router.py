"""Decide which route a prompt takes, and say why: a pure function of text, config and time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from .config import Config, Rule
from .hours import in_hours
from .tokens import estimate_tokens


def norm_prefix(word: str) -> str:
    """How a /word is compared: case-insensitive, a trailing colon ignored (/ARCHITECT and /architect: alike)."""
    return word.rstrip(":").lower() if word.startswith("/") else word


def split_prefix(text: str) -> tuple[str | None, str]:
    """('/word', rest) when the text starts with a slash command, else (None, text); the word is normalised."""
    stripped = text.lstrip()
    if not stripped.startswith("/"):
        return None, text
    head, _, rest = stripped.partition(" ")
    head, nl, rest2 = head.partition("\n")
    if nl:
        rest = rest2 + (" " + rest if rest else "")
    return norm_prefix(head), rest.strip()


@dataclass(frozen=True)
class Decision:
    """Where a prompt goes and the evidence for it."""

    route: str
    text: str  # what will be sent: the prompt with any route prefix removed
    rule: Rule | None
    matched: str | None  # the exact thing that matched: the prefix, the keyword as written, ...
    reason: str
    fallbacks: tuple[str, ...]
    estimated_input_tokens: int
    forced: bool = False  # chosen by --route or a sticky shell route, not by a rule


class _Compiled:
    """Rules pre-digested once per config so deciding is one pass over the text."""

    def __init__(self, config: Config) -> None:
        self.prefixes = {norm_prefix(r.prefix): r for r in config.rules if r.prefix}
        phrases = sorted({canon(k) for r in config.rules for k in r.keywords}, key=len, reverse=True)
        self.phrases = phrases
        # Compiling one regex over 2,000 phrases costs ~35 ms, more than a short prompt's whole routing: the
        # regex is built on demand, for a short text over just the phrases whose first word occurs in it.
        self.by_lead: dict[str, list[str]] = {}
        for p in phrases:
            self.by_lead.setdefault(_lead(p), []).append(p)
        self._full: re.Pattern[str] | None = None
        self._decided = False
        self.rule_keys = {r.index: tuple(canon(k) for k in r.keywords) for r in config.rules}
        self.rest = [r for r in config.rules if not r.prefix]
        self.by_keyword: dict[str, set[int]] = {}
        for r in config.rules:
            for k in self.rule_keys[r.index]:
                self.by_keyword.setdefault(k, set()).add(r.index)
        self.regexes = _Regexes({r.index: r.regex for r in config.rules if r.regex})
        self.needs_tokens = any(r.min_tokens is not None or r.max_tokens is not None for r in config.rules)

    def keywords_for(self, low: str) -> re.Pattern[str] | None:
        """The keyword regex for this lower-cased text: every phrase that could match it (None: none can).

        The first short text (a one-shot's only prompt) gets a regex over its candidate phrases; after that,
        or for a long text, the full regex is compiled once and kept (the shell and the gateway decide often).
        """
        if self._full is None and (self._decided or len(low) > SHORT_TEXT):
            self._full = _phrase_regex(self.phrases)
        self._decided = True
        if self._full is not None:
            return self._full
        lit = [p for lead, ps in self.by_lead.items() if lead in low for p in ps]
        return _phrase_regex(lit) if lit else None


SHORT_TEXT = 4096


class _Regexes(dict):  # type: ignore[type-arg]
    """Rule index → compiled regex, compiled on first use (most prompts are decided before most rules)."""

    def __init__(self, sources: dict[int, str]) -> None:
        super().__init__()
        self._sources = sources

    def __missing__(self, index: int) -> re.Pattern[str]:
        pattern = self[index] = re.compile(self._sources[index])
        return pattern


def _lead(phrase: str) -> str:
    """The literal every match of the phrase starts with: its first word without the plural ending."""
    word = _pattern_word(phrase.split(" ", 1)[0])
    return word.rstrip(_SUFFIX_S + _SUFFIX_ES + _SUFFIX_IES)


_SIBILANT = ("s", "x", "z", "ch", "sh")
# How the regex writes each canonical (singular) word's ending: it also matches the plural.
_SUFFIX_S, _SUFFIX_ES, _SUFFIX_IES = "\x01", "\x02", "\x03"
_SUFFIX_RE = {_SUFFIX_S: "s?", _SUFFIX_ES: "(?:es)?", _SUFFIX_IES: "(?:y|ies)"}


def singular(word: str) -> str:
    """The singular of one word, so plural and singular compare equal: tests → test, fixes → fix, queries → query.

    Only words of three or more letters change: -ies → -y; -es → nothing after s, x, z, ch, sh; one
    final -s (not -ss) → nothing. Everything else is already singular.
    """
    if len(word) < 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(_SIBILANT):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def canon(phrase: str) -> str:
    """A keyword or matched text as compared: lower case, single spaces, each word singular."""
    return " ".join(singular(w) for w in phrase.lower().split())


def _pattern_word(word: str) -> str:
    """A canonical word with its ending marked for the regex: test → test+s?, fix → fix+(es)?, query → quer+(y|ies)."""
    if len(word) < 3 or not word.isalpha():
        return word
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + _SUFFIX_IES
    return word + (_SUFFIX_ES if word.endswith(_SIBILANT) else _SUFFIX_S)


def _phrase_regex(phrases: list[str]) -> re.Pattern[str]:
    """One alternation over lower-cased text, factored as a trie so each position fails fast.

    Whitespace inside a phrase matches any run of whitespace; the end must be a word boundary
    (the start is checked by the caller, which keeps the regex free of a leading assertion so
    the engine can skip positions by their first character).
    """
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for p in phrases:
        node = trie
        for ch in " ".join(_pattern_word(w) for w in p.split(" ")):
            node = node.setdefault(ch, {})
        node[""] = {}

    def piece(ch: str) -> str:
        return r"\s+" if ch == " " else _SUFFIX_RE.get(ch) or re.escape(ch)

    def build(node: dict) -> str:  # type: ignore[type-arg]
        alts = [piece(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(f"(?:{build(trie)})(?!\\w)")


@lru_cache(maxsize=8)
def _compiled(config: Config) -> _Compiled:
    return _Compiled(config)


def _found_keywords(c: _Compiled, text: str) -> dict[str, str]:
    """Normalised keyword → the text as written, for every keyword present: one regex pass over the text."""
    low = text.lower()
    keywords = c.keywords_for(low) if c.phrases else None
    if keywords is None:
        return {}
    same = len(low) == len(text)  # lower() can change lengths for a few non-ASCII letters
    found: dict[str, str] = {}
    pos = 0
    search = keywords.search
    while (m := search(low, pos)) is not None:
        start = m.start()
        if start and (low[start - 1].isalnum() or low[start - 1] == "_"):
            pos = start + 1  # not at a word start; a real match may begin inside this one
            continue
        pos = m.end()
        key = canon(m.group(0))
        if key in found:
            continue
        found[key] = text[start:pos] if same else m.group(0)
        for p in c.phrases:  # a longer phrase may hide a shorter keyword inside it ("failing test" ⊃ "test")
            if p not in found and len(p) < len(key) and p in key and re.search(
                r"(?<!\w)" + re.escape(p) + r"(?!\w)", key
            ):
                found[p] = p
    return found


def fallback_chain(config: Config, route: str) -> tuple[str, ...]:
    """The route's fallbacks, depth first, each route once (cycles are rejected at load time)."""
    out: dict[str, None] = {}
    todo = [iter(config.routes[route].fallback)]  # iterative: a chain of 1,000 routes must not hit the stack
    while todo:
        fb = next(todo[-1], None)
        if fb is None:
            todo.pop()
        elif fb != route and fb not in out:
            out[fb] = None
            todo.append(iter(config.routes[fb].fallback))
    return tuple(out)


def decide(text: str, config: Config, now: datetime, *, route: str | None = None, attached: str = "",
           context_tokens: int = 0) -> Decision:
    """Pick a route: a forced route, else prefix rules, else the other rules in file order, else the default.

    `attached` (piped text, -f files) is sent after the prompt and counts in the token estimate,
    but keywords and regexes look at the prompt only. `context_tokens` (the conversation so far)
    counts toward min_tokens/max_tokens too.
    """
    c = _compiled(config)
    prefix, rest = split_prefix(text)
    prefix_rule = c.prefixes.get(prefix) if prefix else None
    body = rest if prefix_rule else text
    tokens = estimate_tokens(body) + (estimate_tokens(attached) if attached else 0) + context_tokens
    sent = body + attached

    if route is not None:
        return Decision(route, sent, None, None, f"--route {route} was given", fallback_chain(config, route),
                        tokens, forced=True)
    if prefix_rule is not None and _others_hold(prefix_rule, body, tokens, now, c, {}):
        return _decided(config, prefix_rule, sent, tokens, prefix or "", f"the prompt starts with {prefix}")

    found = _found_keywords(c, body) if c.phrases else {}
    hits: set[int] = set().union(*(c.by_keyword[k] for k in found)) if found else set()
    for rule in c.rest:
        if rule.keywords and rule.index not in hits:
            continue  # none of its keywords occurs: skip without evaluating its other conditions
        why = _match(rule, body, tokens, now, c, found)
        if why is not None:
            return _decided(config, rule, sent, tokens, why[0], why[1])
    return Decision(config.default_route, sent, None, None, "no rule matched, so the default route is used",
                    fallback_chain(config, config.default_route), tokens)


def _decided(config: Config, rule: Rule, body: str, tokens: int, matched: str, why: str) -> Decision:
    return Decision(rule.route, body, rule, matched, f"{why} (rule {rule.index + 1}, line {rule.line})",
                    fallback_chain(config, rule.route), tokens)


def _others_hold(rule: Rule, body: str, tokens: int, now: datetime, c: _Compiled, found: dict[str, str]) -> bool:
    """A prefix rule may also carry conditions; they must hold too."""
    if not (rule.keywords or rule.regex or rule.min_tokens is not None or rule.max_tokens is not None or rule.hours):
        return True
    return _match(rule, body, tokens, now, c, found or _found_keywords(c, body)) is not None


def _match(
    rule: Rule, body: str, tokens: int, now: datetime, c: _Compiled, found: dict[str, str]
) -> tuple[str, str] | None:
    """(matched text, why) when every condition of the rule holds, else None."""
    evidence: list[tuple[str, str]] = []
    if rule.keywords:
        hit = next((k for k in c.rule_keys[rule.index] if k in found), None)
        if hit is None:
            return None
        evidence.append((found[hit], f"the prompt mentions \u201c{found[hit]}\u201d"))
    if rule.regex:
        m = c.regexes[rule.index].search(body)
        if m is None:
            return None
        evidence.append((m.group(0), f"the prompt matches /{rule.regex}/ at \u201c{_clip(m.group(0))}\u201d"))
    if rule.min_tokens is not None:
        if tokens < rule.min_tokens:
            return None
        evidence.append((f"~{tokens} tokens", f"the prompt is ~{tokens:,} tokens (≥ {rule.min_tokens:,})"))
    if rule.max_tokens is not None:
        if tokens > rule.max_tokens:
            return None
        evidence.append((f"~{tokens} tokens", f"the prompt is ~{tokens:,} tokens (≤ {rule.max_tokens:,})"))
    if rule.hours:
        if not in_hours(rule.hours, now):
            return None
        evidence.append((now.strftime("%H:%M"), f"it is {now:%H:%M}, within {rule.hours}"))
    if not evidence:
        return None
    return evidence[0][0], " and ".join(e[1] for e in evidence)


def _clip(s: str, n: int = 40) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"
