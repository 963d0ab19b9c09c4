"""A labelled corpus for the secret screen, generated at run time (nothing in it is a real or published sample).

Positives: each claimed kind's format filled with random characters of its own alphabet, and assignments in the
forms of ten languages and config formats (Python, Go, Java, C#, JavaScript/TypeScript, Ruby, PHP, Rust, Kotlin, C,
plus YAML, JSON, TOML/INI, shell/.env), with key names built from ordinary words around the secret word and
values of the kinds that used to be missed. Negatives: code and docs lines that look like secrets and are not.
Prefixes are split in the source (``"gh" "p_"``) so that this file does not look like a leak to a scanner.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
BASE32 = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class Sample:
    """A text holding one secret of a kind; the secret's text so a test can check it is covered."""

    kind: str
    text: str
    secret: str


class _Gen:
    """Random strings that look machine-made (every character class of the alphabet present)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def rand(self, n: int, alphabet: str = ALNUM) -> str:
        classes = [c for c in (str.isdigit, str.isupper, str.islower) if any(c(x) for x in alphabet)]
        while True:
            s = "".join(self.rng.choice(alphabet) for _ in range(n))
            if all(any(c(x) for x in s) for c in classes[:min(len(classes), max(1, n // 4))]):
                return s

    def pick(self, items: list[str] | tuple[str, ...]) -> str:
        return self.rng.choice(items)

    def late_separator(self, n: int) -> str:
        """A URL-safe body with a '-' or '_' late in it (the Google key bug)."""
        body = list(self.rand(n))
        body[self.rng.randrange(n // 2, n)] = self.pick("-_")
        return "".join(body)


def _tokens(g: _Gen) -> list[tuple[str, str]]:
    """(kind, token) for every fixed-format kind, with the variants that used to be missed."""
    aws_id = "AK" + "IA" + "".join(g.rng.choice(BASE32) for _ in range(16))
    pem_header = g.pick(("RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY",
                         "DSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
    short_pem = f"-----BEGIN {pem_header}-----\n" + "MII" + g.rand(g.rng.randrange(8, 40), B64)
    full_pem = (f"-----BEGIN {pem_header}-----\n" + "\n".join(g.rand(64, B64) for _ in range(4))
                + f"\n-----END {pem_header}-----")
    jwt_head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    jwt_body = base64.urlsafe_b64encode(f'{{"sub":"{g.rand(8)}"}}'.encode()).decode().rstrip("=")
    return [
        ("private-key", g.pick((short_pem, full_pem))),
        ("aws-access-key", g.pick((aws_id, "AS" + "IA" + "".join(g.rng.choice(BASE32) for _ in range(16))))),
        ("github-token", "gh" + g.pick("pousr") + "_" + g.rand(36)),
        ("github-token", "github" + "_pat_" + g.rand(22) + "_" + g.rand(59)),
        ("anthropic-key", "sk-" + "ant-api03-" + g.rand(93, URLSAFE) + "AA"),
        ("openai-key", "sk-" + g.pick(("proj-", "svcacct-", "admin-")) + g.rand(g.rng.randrange(40, 150), URLSAFE)),
        ("openrouter-key", "sk-" + "or-v1-" + g.rand(64, "0123456789abcdef")),
        ("slack-token", "xo" + "xb-" + str(g.rng.randrange(10**11, 10**12)) + "-" + g.rand(24)),
        ("slack-token", "xo" + "x" + g.pick("ar") + "-" + g.pick(("", "2-")) + g.rand(g.rng.randrange(8, 14))),
        ("slack-webhook", "https://hooks." + "slack.com/services/T0" + g.rand(9).upper() + "/B0"
         + g.rand(9).upper() + "/" + g.rand(24)),
        ("google-api-key", "AI" + "za" + g.pick((g.rand(35, URLSAFE), g.late_separator(35)))),
        ("stripe-key", g.pick("sr") + "k_" + "live_" + g.rand(g.rng.randrange(24, 99))),
        ("gitlab-token", "gl" + "pat-" + g.rand(20, URLSAFE)),
        ("npm-token", "np" + "m_" + g.rand(36)),
        ("pypi-token", "py" + "pi-AgEIcHlwaS5vcmc" + g.rand(120, URLSAFE)),
        ("huggingface-token", "h" + "f_" + g.rand(34)),
        ("sendgrid-key", "S" + "G." + g.rand(22, URLSAFE) + "." + g.rand(43, URLSAFE)),
        ("jwt", f"{jwt_head}.{jwt_body}.{g.rand(43, URLSAFE)}"),
    ]


_TOKEN_CONTEXTS = ("{s}", "here it is: {s}", "export TOKEN_VALUE={s}", 'client = Client("{s}")',
                   "- key: `{s}`", "{{\"value\": \"{s}\"}}", "curl -H 'x-api-key: {s}' https://api.internal")

# Key names: ordinary words around the secret word, in the casing styles of each language.
_BEFORE = ("", "admin", "service_account", "frontend", "minio", "maxmind", "typeform_api", "some_api", "todo",
           "db", "prod", "stripe", "github", "backend", "internal", "legacy", "user")
_AFTER = ("", "123", "do_not_commit", "prod", "2", "value", "old", "live")
_GENERIC_WORDS = ("token", "tok", "secret", "api_key", "access_token", "auth_token", "client_secret", "private_key",
                  "credentials", "secret_key", "access_key", "signing_key", "encryption_key", "refresh_token")
_PASSWORD_WORDS = ("password", "passwd", "pwd", "passphrase", "db_password", "pass")


def _key_name(g: _Gen, word: str, style: str) -> str:
    parts = [p for p in (g.pick(_BEFORE), word, g.pick(_AFTER)) if p]
    words = "_".join(parts).split("_")
    if style == "upper":
        return "_".join(words).upper()
    if style == "camel":
        return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    return "_".join(words)


# (style of key, template): {k} key, {v} value. Ten languages and the common config formats.
_FORMS = (
    ("snake", '{k} = "{v}"'), ("snake", "{k}: str = '{v}'"),  # Python
    ("camel", 'var {k} string = "{v}"'), ("camel", '{k} := "{v}"'), ("camel", 'const {k} = "{v}"'),  # Go
    ("camel", 'String {k} = "{v}";'), ("upper", 'private static final String {k} = "{v}";'),  # Java
    ("camel", 'string {k} = "{v}";'), ("camel", 'var {k} = @"{v}";'),  # C#
    ("camel", "const {k} = '{v}';"), ("camel", 'let {k}: string = "{v}";'), ("camel", "{{ {k}: '{v}' }}"),  # JS/TS
    ("upper", "{k} = '{v}'"), ("snake", "{k}: '{v}',"), ("snake", ':{k} => "{v}"'),  # Ruby
    ("snake", "${k} = '{v}';"), ("snake", "'{k}' => '{v}',"),  # PHP
    ("snake", 'let {k}: &str = "{v}";'), ("upper", 'const {k}: &str = "{v}";'),  # Rust
    ("camel", 'val {k}: String = "{v}"'), ("camel", 'val {k} = "{v}"'),  # Kotlin
    ("upper", '#define {k} "{v}"'), ("snake", 'const char *{k} = "{v}";'),  # C
    ("snake", "{k}: {v}"), ("snake", '  {k}: "{v}"'),  # YAML
    ("snake", '{{"{k}": "{v}"}}'), ("camel", '  "{k}": "{v}",'),  # JSON
    ("snake", '{k} = "{v}"'), ("snake", "{k}={v}"),  # TOML / INI
    ("upper", 'export {k}="{v}"'), ("upper", "{k}={v}"),  # shell / .env
)


def _value(g: _Gen, password: bool, unquoted: bool) -> str:
    """A secret value of a shape that used to be missed, or a plain random one."""
    shapes = [
        lambda: g.rand(g.rng.randrange(12, 40)),
        lambda: "test_" + g.rand(24),  # not a placeholder: the rest is random
        lambda: g.rand(6) + "%d" + g.rand(10),
        lambda: g.rand(12, ALNUM + "-_"),
        lambda: g.rand(20, string.ascii_letters),  # letters only, but not words
        lambda: g.rand(13) + "." + g.rand(14),  # a '.' inside an unquoted value
        lambda: g.rand(10) + "=" + g.rand(12) + "=",  # '=' inside an unquoted value
    ]
    if password:
        shapes.append(lambda: g.rand(12, ALNUM + "!#%^*+"))
    value = g.pick(shapes)()
    return value.replace("%d", "x9") if unquoted else value


def positives(seed: int = 1, rounds: int = 30) -> list[Sample]:
    """Every kind, `rounds` times, in varied surroundings."""
    g = _Gen(seed)
    out: list[Sample] = []
    for _ in range(rounds):
        for kind, token in _tokens(g):
            out.append(Sample(kind, g.pick(_TOKEN_CONTEXTS).format(s=token), token))
        for words, kind in ((_GENERIC_WORDS, "generic-secret-assignment"), (_PASSWORD_WORDS, "password-assignment")):
            for style, form in g.rng.sample(_FORMS, 6):
                value = _value(g, kind == "password-assignment", "{v}" in form and '"{v}"' not in form
                               and "'{v}'" not in form)
                text = form.format(k=_key_name(g, g.pick(words), style), v=value)
                out.append(Sample(kind, text, value))
        user = g.pick(("ada", "deploy", "ci-bot", "admin"))
        password = g.rand(g.rng.randrange(6, 16))
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        out.append(Sample("basic-auth", f"Authorization: Basic {basic}", basic))
        out.append(Sample("basic-auth", f"curl -u {user}:{password} https://ci.internal/api", password))
        bearer = g.rand(40, URLSAFE)
        out.append(Sample("bearer-token", f'-H "Authorization: Bearer {bearer}"', bearer))
        host = g.pick(("db.internal", "10.0.0.7", "cache", "git.corp.net"))
        out.append(Sample("url-password", f"postgres://app:{password}@{host}:5432/app", password))
        aws_secret, env_value = g.rand(40, B64), g.rand(40, B64)
        out.append(Sample("aws-secret-key", f"aws_secret_access_key = {aws_secret}", aws_secret))
        out.append(Sample("high-entropy-env-value", f"SESSION_SIGNING={env_value}\n", env_value))
    return out


NEGATIVES = [
    "aws_access_key_id = AK" + "IAXXXXXXXXXXXXXXXX",
    "AK" + "IAXXXXXXXXXXXXXXXX",
    "proxy: http://abc:xyz@example.com:8080",
    "git clone https://user:secretpw@example.org/repo.git",
    "    private_key: PKCS7PrivateKeyTypes,",
    "    public_key: RSAPublicKey,",
    "token: Optional[AccessTokenCredential] = None",
    "POST /oauth/token?grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fapp",
    'primaryKey="customerOrderIdentifier"',
    "foreignKey=organizationMembershipId",
    "    primaryKey: 'tenantAccountId',",
    "sortKey=createdAtTimestampMillis",
    'password = os.environ["DB_PASSWORD"]',
    "password: str",
    "def connect(host, user, password=None, token=None):",
    'api_key = "<your-api-key>"',
    'token_type = "Bearer"',
    'PASSWORD_FIELD = "password"',
    "max_tokens = 4096",
    "next_token = response.NextToken",
    'password = "changeme"',
    'secret = "test_secret_value"',
    'api_key = "sample-api-key"',
    "Authorization: Bearer ${TOKEN}",
    "curl -u $USER:$PASSWORD https://api.example.com",
    "Authorization: Basic <base64 of user:password>",
    "tok = next(tokens)",
    "tok_type = tokenize.NAME",
    "curl -u admin:*** http://localhost:8080",
    "curl -u deploy:<token> https://ci.internal",
    'ADMIN_TOKEN = os.getenv("ADMIN_TOKEN")',
    "SERVICE_ACCOUNT_TOKEN: ${{ secrets.SERVICE_ACCOUNT_TOKEN }}",
    "self.secret_key = secret_key",
    "token = self._tokens[index]",
    "keyboard_shortcut = 'ctrl+shift+p'",
    "CSRF_COOKIE_NAME = 'csrftoken'",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "tokens start with " + "gh" + "p_ and are 40 characters long",
    'password_hash = "pbkdf2_sha256$260000$salt$hash"',
    "secret_name = 'prod/db/credentials'",
    "encryption_key_id = 'alias/app-data-key'",
    "LANG=en_US.UTF-8",
    "        RegOpenKeyEx = win32api.RegOpenKeyEx",
    "        self.add_password = self.passwd.add_password",
    "    output is passed to :func:`subprocess.Popen`.",
    "    key: a flag to pass to :meth:`parse_string` when run",
    "request_id = 123e4567-e89b-12d3-a456-426614174000",
]
