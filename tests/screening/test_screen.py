"""routesh.screening.screen: secrets are caught and redacted, ordinary code is left alone, nothing leaks.

Every fake secret is assembled at run time from a split prefix and random characters, so this
file holds nothing that looks like a live credential to a repository scanner.
"""

from __future__ import annotations

import base64
import random
import string
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from clirun import routesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screen_corpus import NEGATIVES, positives
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.screening.screen import KINDS, Finding, ScreenResult, apply, describe, placeholder, redact, scan

RNG = random.Random(20261122)
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n random characters, mixed enough to look machine-made."""
    classes = [cls for cls in (str.isdigit, str.isupper, str.islower) if any(cls(c) for c in alphabet)]
    while True:
        s = "".join(RNG.choice(alphabet) for _ in range(n))
        if all(any(cls(c) for c in s) for cls in classes):
            return s


def j(*parts: str) -> str:
    """Join prefix pieces (kept apart in the source so scanners don't see a token)."""
    return "".join(parts)


@dataclass(frozen=True)
class Case:
    """A text that must produce a finding of `kind` covering `secret`."""

    name: str
    kind: str
    text: str
    secret: str


def pem(header: str, body_lines: int = 6, escaped: bool = False) -> str:
    nl = "\\n" if escaped else "\n"
    body = nl.join(rand(64, B64) for _ in range(body_lines))
    return f"-----BEGIN {header}-----{nl}{body}{nl}-----END {header}-----"


def jwt() -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"Ada","iat":1516239022}').decode().rstrip("=")
    return f"{head}.{payload}.{rand(43, URLSAFE)}"


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, kind: str, template: str, secret: str) -> None:
        cases.append(Case(name, kind, template.format(s=secret), secret))

    for header in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY",
                   "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"):
        add(f"pem {header}", "private-key", "here is my key:\n{s}\nwhy does ssh reject it?", pem(header))
    add("pem in service-account json", "private-key",
        '{{"type": "service_account", "private_key": "{s}\\n", "client_email": "x@y.iam"}}',
        pem("PRIVATE KEY", escaped=True))
    truncated = pem("RSA PRIVATE KEY").rsplit("\n", 2)[0]
    add("pem truncated", "private-key", "{s}", truncated)
    putty = "Private-Lines: 4\n" + "\n".join(rand(64, B64) for _ in range(4))
    add("putty", "private-key", "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n{s}\nPrivate-MAC: abc", putty)

    base32 = string.ascii_uppercase + "234567"
    aws_id = j("AK", "IA") + "".join(RNG.choice(base32) for _ in range(16))
    aws_secret = rand(40, B64)
    add("aws id in prose", "aws-access-key", "my key id is {s}, is that right?", aws_id)
    add("aws temporary id", "aws-access-key", "AWS_ACCESS_KEY_ID={s}",
        j("AS", "IA") + "".join(RNG.choice(base32) for _ in range(16)))
    add("aws secret in credentials file", "aws-secret-key",
        "[default]\naws_access_key_id = " + aws_id + "\naws_secret_access_key = {s}\n", aws_secret)
    add("aws secret in env", "aws-secret-key", "export AWS_SECRET_ACCESS_KEY={s}", aws_secret)
    add("aws secret beside id in csv", "aws-secret-key", "User,Key,Secret\nci," + aws_id + ",{s}\n", aws_secret)

    for prefix in ("p", "o", "s", "u", "r"):
        add(f"github gh{prefix}_", "github-token", "git remote set-url origin https://x:{s}@github.com/a/b.git",
            j("gh", prefix, "_") + rand(36))
    add("github fine-grained", "github-token", "GITHUB_TOKEN={s}", j("github", "_pat_") + rand(22) + "_" + rand(59))
    add("anthropic", "anthropic-key", "ANTHROPIC_API_KEY={s}", j("sk-", "ant-api03-") + rand(93, URLSAFE) + "AA")
    add("anthropic in code", "anthropic-key", 'client = Anthropic(api_key="{s}")',
        j("sk-", "ant-admin01-") + rand(80, URLSAFE))
    add("openai project", "openai-key", "openai.api_key = '{s}'", j("sk-", "proj-") + rand(120, URLSAFE))
    add("openai service account", "openai-key", "key: {s}", j("sk-", "svcacct-") + rand(100, URLSAFE))
    add("openai legacy", "openai-key", "OPENAI_API_KEY={s}", j("sk-") + rand(20) + j("T3Blbk", "FJ") + rand(20))
    add("openai-compatible", "openai-key", "curl -H 'x-key: {s}'", j("sk-") + rand(48))
    add("openrouter", "openrouter-key", "OPENROUTER_API_KEY={s}",
        j("sk-", "or-v1-") + "".join(RNG.choice("0123456789abcdef") for _ in range(64)))
    add("slack bot", "slack-token", "SLACK_BOT_TOKEN={s}",
        j("xo", "xb-") + str(RNG.randrange(10**11, 10**12)) + "-" + str(RNG.randrange(10**12, 10**13)) + "-" + rand(24))
    add("slack user", "slack-token", "token {s}", j("xo", "xp-") + "-".join(str(RNG.randrange(10**11, 10**12))
                                                                        for _ in range(3)) + "-" + rand(32))
    add("slack app", "slack-token", "{s}", j("xa", "pp-1-") + "A0" + rand(9).upper() + "-" + str(RNG.randrange(10**12))
        + "-" + "".join(RNG.choice("0123456789abcdef") for _ in range(64)))
    add("slack webhook", "slack-webhook", "post to {s} when done",
        j("https://hooks.", "slack.com/services/") + "T0" + rand(9).upper() + "/B0" + rand(9).upper() + "/" + rand(24))
    add("google", "google-api-key", "const key = '{s}';", j("AI", "za") + rand(35, URLSAFE))
    add("stripe secret", "stripe-key", "STRIPE_SECRET_KEY={s}", j("sk", "_live_") + rand(24))
    add("stripe restricted", "stripe-key", "stripe.api_key = \"{s}\"", j("rk", "_live_") + rand(99))
    add("gitlab", "gitlab-token", "GITLAB_TOKEN={s}", j("gl", "pat-") + rand(20, URLSAFE))
    add("npm", "npm-token", "//registry.npmjs.org/:_authToken={s}", j("np", "m_") + rand(36))
    add("pypi", "pypi-token", "password = {s}", j("py", "pi-AgEIcHlwaS5vcmc") + rand(120, URLSAFE))
    add("huggingface", "huggingface-token", "HF_TOKEN={s}", j("h", "f_") + rand(34))
    add("sendgrid", "sendgrid-key", "SENDGRID_API_KEY={s}", j("S", "G.") + rand(22, URLSAFE) + "." + rand(43, URLSAFE))
    add("jwt", "jwt", "Cookie: session={s}; Path=/", jwt())

    pw = rand(14, ALNUM + "!#%^*")
    add("python password", "password-assignment", 'DB_PASSWORD = "{s}"', pw)
    add("json password", "password-assignment", '{{"user": "ada", "password": "{s}"}}', pw)
    add("yaml password", "password-assignment", "database:\n  user: ada\n  password: {s}\n", pw)
    add("yaml password quoted", "password-assignment", "  passwd: '{s}'\n", pw)
    add("env password", "password-assignment", "POSTGRES_PASSWORD={s}", "hunt3r2xyz")
    add("ini password", "password-assignment", "[db]\npassword = {s}\n", "s3cr3t!pw")
    add("connection string", "password-assignment", "Server=db;Database=app;User Id=sa;Password={s};", "Sup3r$ecret9")
    add("keyword argument", "password-assignment", 'conn = connect(host, user="sa", password="{s}")', pw)
    add("js password", "password-assignment", "const dbPassword = '{s}';", pw)
    add("go password", "password-assignment", 'password := "{s}"', pw)
    add("php password", "password-assignment", "'password' => '{s}',", pw)
    add("cli flag", "password-assignment", "mysql -u root --password={s} app", "x9Kq2mZ7pL")
    add("passphrase", "password-assignment", 'GPG_PASSPHRASE="{s}"', pw)
    generic = rand(32, ALNUM + "-_")
    add("api_key python", "generic-secret-assignment", 'api_key = "{s}"', generic)
    add("apiKey js", "generic-secret-assignment", "{{ apiKey: '{s}' }}", generic)
    add("client_secret yaml", "generic-secret-assignment", "oauth:\n  client_secret: {s}\n", generic)
    add("django secret", "generic-secret-assignment", "SECRET_KEY = '{s}'",
        "django-insecure-" + rand(40, ALNUM + "!@#%^&*"))
    add("auth token env", "generic-secret-assignment", "AUTH_TOKEN={s}", generic)
    add("access token json", "generic-secret-assignment", '{{"access_token": "{s}", "expires_in": 3600}}', generic)
    add("private_key value", "generic-secret-assignment", 'PRIVATE_KEY = "{s}"', rand(64, "0123456789abcdef"))
    add("env high entropy", "high-entropy-env-value", "SESSION_SIGNING={s}\nDEBUG=false\n", rand(40, B64))
    add("env high entropy export", "high-entropy-env-value", "export SENTRY_SALT='{s}'", rand(32, URLSAFE))
    add("postgres url", "url-password", "DATABASE_URL=postgres://app:{s}@db.internal:5432/app", "pw" + rand(12))
    add("redis url", "url-password", "redis://:{s}@cache:6379/0", rand(20))
    add("git remote", "url-password", "https://ada:{s}@gitlab.example.org/group/repo.git", rand(20))
    add("bearer header", "bearer-token", 'curl -H "Authorization: Bearer {s}" https://api', rand(40, URLSAFE))
    add("basic header", "basic-auth", "Authorization: Basic {s}",
        base64.b64encode(("ada:" + rand(16)).encode()).decode())
    return cases


CASES = build_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_secret_is_caught(case: Case) -> None:
    findings = scan(case.text)
    start = case.text.index(case.secret)
    end = start + len(case.secret)
    covering = [f for f in findings if f.start <= start and f.end >= end]
    assert covering, f"{case.name}: not found; findings: {findings}"
    assert covering[0].kind == case.kind


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_redaction_leaves_nothing_behind(case: Case) -> None:
    findings = scan(case.text)
    redacted = redact(case.text, findings)
    assert case.secret not in redacted
    core = case.secret[-16:]  # the random tail of every secret
    assert core not in redacted
    assert placeholder(case.kind) in redacted
    assert scan(redacted) == ()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_nothing_shows_the_secret(case: Case) -> None:
    findings = scan(case.text)
    for on_secret in ("block", "redact", "warn"):
        result = apply(case.text, on_secret)
        for shown in (repr(findings), str(findings), repr(result), str(result), result.summary, describe(findings)):
            assert case.secret not in shown
            assert case.secret[-12:] not in shown


def test_every_kind_is_exercised() -> None:
    assert {c.kind for c in CASES} == set(KINDS)


def test_offsets_and_lines_are_str_positions_even_after_non_ascii() -> None:
    token = j("gh", "p_") + rand(36)
    text = "naïve — 日本語 😀\nline two\n\tsecond token: " + token + " and more"
    (finding,) = scan(text)
    assert text[finding.start:finding.end] == token
    assert finding.line == 3


def test_several_secrets_in_order_with_lines() -> None:
    a, b = j("AK", "IA") + "ABCDEFGHIJKLMNOP", j("gh", "s_") + rand(36)
    text = f"first\n{a}\n\nthird {b}\n"
    kinds = [(f.kind, f.line) for f in scan(text)]
    assert kinds == [("aws-access-key", 2), ("github-token", 4)]


def test_overlapping_detections_merge_under_the_specific_kind() -> None:
    token = j("sk-", "ant-api03-") + rand(90, URLSAFE)
    (finding,) = scan(f'ANTHROPIC_API_KEY="{token}"\n')  # also an env line and a key= assignment
    assert finding.kind == "anthropic-key"


# ----------------------------------------------------------------------------------------------
# What must not be flagged

NEAR_MISSES = [
    'password = os.environ["DB_PASSWORD"]',
    "password = getpass.getpass('Password: ')",
    "def connect(host, user, password=None, token=None):",
    'password = ""',
    'password = "changeme"',
    "password: str",
    "password: Optional[str] = None",
    "self.password = password",
    '{"password": password, "user": user}',
    "if password == confirm:",
    "if token != expected_token:",
    'api_key = "<your-api-key>"',
    'api_key = "YOUR_API_KEY"',
    'token = "xxx"',
    'secret = "***"',
    'token_type = "Bearer"',
    'TOKEN_RE = re.compile(r"[a-z]+")',
    'PASSWORD_FIELD = "password"',
    'ENV_VAR = "AWS_CONTAINER_AUTHORIZATION_TOKEN"',
    "api_key: ${OPENAI_API_KEY}",
    'password: "{{ vault_db_password }}"',
    "password: !vault |",
    "export ANTHROPIC_API_KEY=" + j("sk-", "ant-") + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    'export OPENAI_API_KEY="sk-..."',
    "aws_access_key_id = " + j("AK", "IA") + "IOSFODNN7EXAMPLE",
    "-----BEGIN RSA PRIVATE KEY-----",
    'if line.startswith("-----BEGIN PRIVATE KEY-----"):',
    'PEM = "-----BEGIN PRIVATE KEY-----\\n" + body + "\\n-----END PRIVATE KEY-----"',
    "tokens start with " + j("gh", "p_") + " and are 40 characters long",
    "requests==2.31.0 --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f",
    "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "request_id = 123e4567-e89b-12d3-a456-426614174000",
    "PYTHONHASHSEED=0",
    "LANG=en_US.UTF-8",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DATABASE_URL=postgres://user:password@localhost:5432/app",
    "git clone https://user:${GITHUB_TOKEN}@github.com/org/repo.git",
    "mailto:ada@example.com and http://example.com:8080/path",
    "max_tokens = 4096",
    "num_tokens=1000",
    "tokens = tokenize(text)",
    "NextToken: eyJ2IjoiMSIsInMiOjEsImMiOi...",
    '"NextContinuationToken": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="',
    "Authorization: Bearer ${TOKEN}",
    "Authorization: Bearer <token>",
    "Basic authentication is configured in settings.py",
    "task-2f6b9c0d4e8a1f3b5c7d9e0a2b4c6d8e is done",
    "the risk-free rate",
    "bypass = True",
    "passes = 3",
    "compass: north",
    "my_password_hash = hash_password(password)",
    "CSRF_COOKIE_NAME = 'csrftoken'",
    "integrity=sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
    "boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "pip install scikit-learn openai anthropic",
    "See https://platform.openai.com/api-keys to create a key that starts with sk-proj-.",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_is_not_flagged(text: str) -> None:
    assert scan(text) == (), describe(scan(text))


CLEAN_STDLIB = [
    "getpass.py", "secrets.py", "hmac.py", "hashlib.py", "ssl.py", "netrc.py", "smtplib.py", "imaplib.py",
    "poplib.py", "ftplib.py", "http/client.py", "http/cookiejar.py", "tokenize.py", "token.py", "base64.py",
    "uuid.py", "random.py", "configparser.py", "logging/config.py", "email/_header_value_parser.py",
    "xmlrpc/client.py", "argparse.py", "urllib/parse.py", "json/encoder.py", "shlex.py", "subprocess.py",
]


@pytest.mark.parametrize("name", CLEAN_STDLIB)
def test_real_stdlib_module_is_not_flagged(name: str) -> None:
    path = STDLIB / name
    if not path.exists():
        pytest.skip(reason=f"{name} is not in this Python's stdlib")
    findings = scan(path.read_text(encoding="utf-8"))
    assert findings == (), f"{name}: {describe(findings)}"


def test_javascript_corpus_is_not_flagged() -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "tokens"
    for path in sorted(data.glob("*.js")):
        assert scan(path.read_text(encoding="utf-8")) == (), path.name


# ----------------------------------------------------------------------------------------------
# Policy, summary, API shape


def test_apply_block_refuses_and_still_redacts() -> None:
    case = CASES[0]
    result = apply(case.text, "block")
    assert result.blocked and result.findings
    assert case.secret not in result.text


def test_apply_redact_and_warn_and_allow() -> None:
    case = next(c for c in CASES if c.kind == "github-token")
    redacted = apply(case.text, "redact")
    assert not redacted.blocked and case.secret not in redacted.text and "[REDACTED:github-token]" in redacted.text
    warned = apply(case.text, "warn")
    assert not warned.blocked and warned.text == case.text and warned.findings
    allowed = apply(case.text, "allow")
    assert allowed == ScreenResult(case.text, (), False)


def test_apply_without_secrets_returns_the_text() -> None:
    for action in ("block", "redact", "warn", "allow"):
        result = apply("refactor the billing module", action)
        assert result == ScreenResult("refactor the billing module", (), False)
        assert result.summary == "no secrets"


def test_apply_rejects_unknown_policy() -> None:
    with pytest.raises(ValueError, match="block, redact, warn, allow"):
        apply("x", "ignore")


def test_describe_is_one_line_with_kinds_and_lines() -> None:
    findings = (Finding("github-token", 3, 0, 1), Finding("aws-access-key", 5, 2, 3),
                Finding("github-token", 9, 4, 5))
    assert describe(findings) == "3 secrets: github-token (lines 3, 9), aws-access-key (line 5)"
    assert describe((Finding("jwt", 1, 0, 1),)) == "1 secret: jwt (line 1)"
    many = tuple(Finding(kind, n, n, n + 1) for n, kind in enumerate(KINDS, start=1))
    text = describe(many)
    assert "\n" not in text and text.endswith(f"{len(KINDS) - 4} more kinds")
    lots = tuple(Finding("jwt", n, n, n + 1) for n in range(1, 30))
    assert describe(lots) == "29 secrets: jwt (lines 1, 2, 3, 4, 5 and 24 more)"


def test_finding_is_frozen_and_has_no_text_field() -> None:
    f = Finding("jwt", 1, 0, 5)
    with pytest.raises(AttributeError):
        f.kind = "x"  # type: ignore[misc]
    assert set(Finding.__dataclass_fields__) == {"kind", "line", "start", "end"}


def test_redact_joins_overlapping_findings() -> None:
    text = "0123456789"
    out = redact(text, [Finding("jwt", 1, 2, 6), Finding("private-key", 1, 4, 8)])
    assert out == "01[REDACTED:private-key]89"


# ----------------------------------------------------------------------------------------------
# Properties

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(st.text())
@PROPERTY_SETTINGS
def test_scan_never_raises_and_findings_are_sane(text: str) -> None:
    findings = scan(text)
    last_end = 0
    for f in findings:
        assert f.kind in KINDS
        assert last_end <= f.start < f.end <= len(text)
        assert f.line == text.count("\n", 0, f.start) + 1
        last_end = f.end


SECRET_TEXTS = st.sampled_from([c.secret for c in CASES if c.kind not in ("password-assignment", "aws-secret-key",
                                                                         "generic-secret-assignment",
                                                                         "high-entropy-env-value", "url-password",
                                                                         "bearer-token", "basic-auth")])
NOISE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


@given(NOISE, SECRET_TEXTS, NOISE)
@PROPERTY_SETTINGS
def test_secrets_are_found_in_any_surroundings(before: str, secret: str, after: str) -> None:
    text = f"{before}\n{secret}\n{after}"
    assert secret not in redact(text, scan(text))


@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from([c.text for c in CASES])), max_size=6))
@PROPERTY_SETTINGS
def test_redaction_is_idempotent(parts: list[str]) -> None:
    text = "\n".join(parts)
    once = redact(text, scan(text))
    assert redact(once, scan(once)) == once


# ----------------------------------------------------------------------------------------------
# The generated corpus (tests/screen_corpus.py): recall per kind and the false positives to avoid


@pytest.mark.parametrize("seed", [7, 8])
def test_recall_on_the_generated_corpus_is_at_least_98_percent_per_kind(seed: int) -> None:
    totals: dict[str, list[int]] = {}
    for sample in positives(seed, rounds=20):
        start = sample.text.index(sample.secret)
        end = start + len(sample.secret)
        hit = any(f.start <= start and f.end >= end for f in scan(sample.text))
        totals.setdefault(sample.kind, [0, 0])[hit] += 1
    for kind, (misses, hits) in totals.items():
        assert hits / (hits + misses) >= 0.98, (kind, hits, misses)
    assert set(totals) == set(KINDS)


@pytest.mark.parametrize("text", NEGATIVES)
def test_corpus_negative_is_not_flagged(text: str) -> None:
    assert scan(text) == (), describe(scan(text))


def test_a_pem_block_cut_short_is_a_key_and_block_refuses_it() -> None:
    text = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA" + rand(4, B64)
    result = apply(text, "block")
    assert result.blocked and [f.kind for f in result.findings] == ["private-key"]
    assert "MIIEpAIBAAKCAQEA" not in result.text


def test_a_short_prompt_without_candidates_compiles_nothing() -> None:
    """Importing the screen and clearing a short prompt compiles no regex (the dry-run's start-up cost)."""
    code = """
import re
from routesh.screening import screen, assign as screen_assign, passes as screen_passes
from routesh.screening import rules as screen_rules, values as screen_values
assert screen.scan("fix the failing test in the router and explain why") == ()
lazy = [v for m in (screen_assign, screen_rules, screen_values) for v in vars(m).values()
        if isinstance(v, screen_values.LazyRe)]
lazy += [t[2] for t in screen_rules.TOKENS.values()]
assert len(lazy) > 20 and all(r._re is None for r in lazy), "a pattern was compiled"
assert screen_passes._compiled.cache_info().currsize == 0
assert screen.scan("token = 'x9Kq2mZ7pLw4Rt8v'") != ()  # and the first real candidate compiles them
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_a_truncated_pem_is_refused_end_to_end_under_block(upstream, tmp_path) -> None:  # noqa: F811
    """The one-shot with on_secret: block refuses a PEM block cut short, exit 3, before any byte is sent."""
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
providers:
  up: {{type: anthropic, base_url: "{upstream.url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-opus-4-7, retries: 0}}
profiles:
  work: {{on_secret: block}}
""")
    body = "MIIEpAIBAAKCAQEA" + rand(4, B64)
    prompt = "why does ssh reject this?\n-----BEGIN RSA " + "PRIVATE KEY-----\n" + body
    p = routesh("--config", str(cfg), "--profile", "work", stdin=prompt, env={"UP_KEY": "sk-test-screen-0000"})
    assert p.returncode == 3 and "private-key (line 2)" in p.stderr
    assert body not in p.stdout + p.stderr
    assert upstream.generation_requests() == []
