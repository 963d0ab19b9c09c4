"""Every route change after planning (fallback, context-too-long jump, refusal escalation) passes the profile's
policy: a property over random configs and fault sequences, checked on the upstream side (what arrived, with
which key), for the runner (one-shot and shell) and the gateway alike."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upstream import Upstream, context_too_long, refusal, status_error

from routesh.core.context import build
from routesh.core.errors import KeyMissing, PolicyRefusal
from routesh.core.events import Done, EngineError, Usage
from routesh.core.plan import make_plan
from routesh.core.policy import BudgetVerdict
from routesh.engines.dispatch import Dispatcher
from routesh.gateway.server import Gateway, RunningGateway, bind
from routesh.pipeline.runner import Runner

KEYS = {"pa": "sk-ant-test-pa-000000000000", "pb": "sk-test-pb-1111111111111111", "pc": "sk-ant-test-pc-22222222222"}
PROVIDERS = tuple(KEYS)
TOKEN = "gateway-token-for-the-policy-property"


@dataclass(frozen=True)
class World:
    """Two real upstreams: pa and pc (Anthropic wire) share one, told apart by their keys; pb speaks OpenAI's."""

    anthropic: Upstream
    openai: Upstream
    home: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with Upstream() as a, Upstream() as b:
        yield World(a, b, tmp_path_factory.mktemp("policy"))


@st.composite
def configs(draw: st.DrawFn) -> dict:
    """Routes r0..rN on random providers, acyclic fallbacks, on_refusal, a long-context route; a restricted profile."""
    n = draw(st.integers(2, 5))
    names = [f"r{i}" for i in range(n)]
    routes = {}
    for i, name in enumerate(names):
        later = names[i + 1:]
        routes[name] = {
            "provider": draw(st.sampled_from(PROVIDERS)),
            "retries": draw(st.integers(0, 1)),
            "fallback": draw(st.lists(st.sampled_from(later), unique=True, max_size=2)) if later else [],
            "on_refusal": draw(st.none() | st.sampled_from([r for r in names if r != name])),
        }
    return {
        "routes": routes,
        "long_context": draw(st.none() | st.sampled_from(names)),
        "allow_providers": draw(st.none() | st.lists(st.sampled_from(PROVIDERS), min_size=1, unique=True)),
        "allow_routes": draw(st.none() | st.lists(st.sampled_from(names), min_size=1, unique=True)),
        "start": draw(st.sampled_from(names)),
        "downgrade": draw(st.none() | st.sampled_from(names)),  # with the budget already spent
    }


FAULTS = {
    "429": lambda: status_error(429, retry_after="0"),
    "529": lambda: status_error(529, retry_after="0"),
    "500": lambda: status_error(500, retry_after="0"),
    "long": context_too_long,
    "refusal": refusal,
    "refusal-silent": lambda: replace(refusal(), text=""),  # declined before any text: on_refusal escalates
}
faults = st.lists(st.sampled_from(sorted(FAULTS)), max_size=6)


def write_config(world: World, spec: dict) -> Path:
    a, b = world.anthropic, world.openai
    lines = ["default_route: r0", "providers:",
             f'  pa: {{type: anthropic, base_url: "{a.url}", key_env: RS_PROP_PA}}',
             f'  pb: {{type: openai, base_url: "{b.openai_url}", key_env: RS_PROP_PB}}',
             f'  pc: {{type: anthropic, base_url: "{a.url}", key_env: RS_PROP_PC}}', "routes:"]
    for name, r in spec["routes"].items():
        extra = f", on_refusal: {r['on_refusal']}" if r["on_refusal"] else ""
        lines.append(f"  {name}: {{provider: {r['provider']}, model: model-{name}, retries: {r['retries']}, "
                     f"fallback: {json.dumps(r['fallback'])}{extra}}}")
    if spec["long_context"]:
        lines.append(f"code: {{long_context: {spec['long_context']}}}")
    profile = {"on_secret": "allow"}
    if spec["allow_providers"] is not None:
        profile["allow_providers"] = spec["allow_providers"]
    if spec["allow_routes"] is not None:
        profile["allow_routes"] = spec["allow_routes"]
    if spec.get("downgrade"):
        profile["budget"] = {"daily_usd": 1, "on_exceed": "downgrade", "downgrade": spec["downgrade"]}
    lines += ["profiles:", "  open: {}", f"  work: {json.dumps(profile)}"]
    path = world.home / "routes.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def arrived(world: World) -> list[tuple[str, str, str]]:
    """(provider by the key presented, route by the model asked for, key) for each request the upstreams got."""
    by_key = {v: k for k, v in KEYS.items()}
    seen = []
    for up in (world.anthropic, world.openai):
        for r in up.generation_requests():
            key = r.header("x-api-key") or (r.header("authorization") or "").removeprefix("Bearer ")
            model = (r.json or {}).get("model", "")
            seen.append((by_key.get(key, f"unknown key {key[:6]}"), model.removeprefix("model-"), key))
    return seen


def assert_only_allowed(world: World, spec: dict, kind: str) -> None:
    """Nothing forbidden arrived, and every request carried the key of its route's own provider."""
    for provider, route, _ in arrived(world):
        assert provider in PROVIDERS, f"{kind}: a request arrived with a key that is no provider's"
        assert route in spec["routes"], f"{kind}: unexpected model for route {route}"
        assert spec["routes"][route]["provider"] == provider, f"{kind}: route {route} sent with {provider}'s key"
        if spec["allow_providers"] is not None:
            assert provider in spec["allow_providers"], f"{kind}: provider {provider} is forbidden, yet reached"
        if spec["allow_routes"] is not None:
            assert route in spec["allow_routes"], f"{kind}: route {route} is forbidden, yet reached"
        if spec.get("downgrade"):
            assert route == spec["downgrade"], f"{kind}: budget spent, yet route {route} was tried"


def script(world: World, names: list[str]) -> None:
    for up in (world.anthropic, world.openai):
        up.clear()
        up.script(*[FAULTS[n]() for n in names])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=configs(), fault_names=faults)
def test_runner_never_reaches_what_the_profile_forbids(world: World, spec: dict, fault_names: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, key in KEYS.items():
        monkeypatch.setenv(f"RS_PROP_{name.upper()}", key)
    ctx = build(str(write_config(world, spec)), "work")
    script(world, fault_names)
    if spec["downgrade"]:
        spend_two_dollars()
    from routesh.pipeline.prepare import budget_spent, lookup

    plan = make_plan(ctx, "hello", datetime.now(), lookup, route=spec["start"], spent=budget_spent)
    runner = Runner(ctx, on_notice=lambda s: None)
    try:
        outcome = runner.execute(plan)
    except PolicyRefusal:
        assert arrived(world) == []
        return
    finally:
        runner.close()
    assert_only_allowed(world, spec, "runner")
    if outcome.policy is not None:  # ended because what was left to try is forbidden
        assert outcome.status != "ok"


def spend_two_dollars() -> None:
    import time
    import uuid

    from routesh.core.events import AttemptRecord
    from routesh.core.paths import ledger_file
    from routesh.usage.ledger import Ledger

    with Ledger(ledger_file()) as ledger:
        assert ledger.record(AttemptRecord(ts=time.time(), request_id=uuid.uuid4().hex[:16], attempt=1, profile="work",
                                           route="r0", provider="pa", model="m", via="api", status="ok", cost_usd=2.0))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=configs(), fault_names=faults, stream=st.booleans())
def test_gateway_never_reaches_what_the_profile_forbids(world: World, spec: dict, fault_names: list[str],
                                                         stream: bool) -> None:
    spec = {**spec, "downgrade": None}  # budgets in the gateway: test_budget_unverifiable.py
    ctx = build(str(write_config(world, spec)), "work")
    script(world, fault_names)

    async def no_sleep(s: float) -> None:
        return None

    gateway = Gateway(ctx, TOKEN, key_fn=lambda profile, provider: KEYS[provider.name], sleep=no_sleep)
    with RunningGateway(gateway, bind("127.0.0.1", 0)) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        body = {"model": spec["start"], "max_tokens": 100, "stream": stream,
                "messages": [{"role": "user", "content": "hello"}]}
        conn.request("POST", "/v1/messages", json.dumps(body),
                     {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
    assert_only_allowed(world, spec, "gateway")
    assert not any(k.encode() in data for k in KEYS.values())


# ---- the same rule, spelled out on the two paths the audit found, with the dispatcher alone ----

CONFIG = """
default_route: main
providers:
  anthropic: {type: anthropic, key_env: A}
  other: {type: openai, base_url: "http://127.0.0.1:9/v1", key_env: O}
routes:
  main: {provider: anthropic, model: claude-sonnet-4-6, on_refusal: open, retries: 0}
  open: {provider: other, model: gpt-x, retries: 0}
  cheap: {provider: anthropic, model: claude-haiku-4-5, retries: 0}
  large-context: {provider: other, model: gpt-long, retries: 0}
profiles:
  work: {allow_providers: [anthropic]}
"""


def dispatcher(tmp_path: Path, replies: list[list[object]], budget: BudgetVerdict | None = None):
    from routesh.core.catalog import Catalog
    from routesh.core.configfile import parse

    config = parse(CONFIG, "routes.yaml")
    calls, notices = [], []

    def engine(route, provider):
        def stream(req, cancel=None):
            calls.append((provider.name, req.model, req.api_key))
            for item in replies.pop(0):
                if isinstance(item, Exception):
                    raise item
                yield item
        return stream

    def key_for(profile, provider):
        if provider.name == "other":
            return "sk-other"
        return "sk-anthropic"

    d = Dispatcher(config, config.profiles["work"], Catalog(config.models), engine, key_for,
                   on_notice=notices.append, budget=(lambda: budget) if budget else None)
    return d, calls, notices


def test_context_too_long_jump_to_a_forbidden_provider_is_refused(tmp_path: Path) -> None:
    d, calls, notices = dispatcher(tmp_path, [[EngineError("prompt is too long", status=400, context_too_long=True)]])
    out = d.run(("main",), "hi")
    assert [c[0] for c in calls] == ["anthropic"]
    assert out.status == "error" and out.policy and "large-context" in out.policy and "anthropic" in out.policy
    assert any("skipping route large-context" in n for n in notices)


def test_refusal_escalation_to_a_forbidden_provider_is_refused(tmp_path: Path) -> None:
    d, calls, notices = dispatcher(tmp_path, [[Usage(3, 0), Done("refusal")]])
    out = d.run(("main",), "hi")
    assert [c[0] for c in calls] == ["anthropic"] and out.policy and "route open" in out.policy
    assert not any("escalating" in n for n in notices)


def test_budget_spent_mid_request_refuses_the_fallback(tmp_path: Path) -> None:
    spent = BudgetVerdict(True, "profile 'work' budget: $5.00 of $5.00 spent today")
    d, calls, notices = dispatcher(tmp_path, [[EngineError("boom", status=500)]], budget=spent)
    out = d.run(("main", "cheap"), "hi")
    assert len(calls) == 1 and out.policy and "$5.00 of $5.00" in out.policy


def test_budget_spent_still_allows_the_downgrade_route(tmp_path: Path) -> None:
    spent = BudgetVerdict(True, "spent", downgrade="cheap")
    d, calls, _ = dispatcher(tmp_path, [[EngineError("boom", status=500)], [Usage(1, 1), Done("end_turn")]],
                             budget=spent)
    out = d.run(("main", "cheap"), "hi")
    assert out.status == "ok" and [c[1] for c in calls] == ["claude-sonnet-4-6", "claude-haiku-4-5"]


def test_missing_key_is_still_a_key_problem_not_a_policy_one(tmp_path: Path) -> None:
    d, _, _ = dispatcher(tmp_path, [])
    d.key_for = lambda profile, provider: (_ for _ in ()).throw(KeyMissing("no key"))
    with pytest.raises(KeyMissing):
        d.run(("main",), "hi")


def audit_config(tmp_path: Path, a: Upstream, b: Upstream) -> Path:
    """The audit's setup: a work profile on anthropic; large-context and on_refusal on an OpenAI-compatible one."""
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
default_route: main
providers:
  anthropic: {{type: anthropic, base_url: "{a.url}", key_env: RS_A}}
  compat: {{type: openai, base_url: "{b.openai_url}", key_env: RS_O}}
routes:
  main: {{provider: anthropic, model: claude-sonnet-4-6, retries: 0, on_refusal: large-context}}
  large-context: {{provider: compat, model: gpt-long, retries: 0}}
profiles:
  work: {{allow_providers: [anthropic]}}
""")
    return cfg


def test_refused_jump_exits_3_from_the_one_shot(tmp_path: Path) -> None:
    """The audit's repro, end to end: large-context on an OpenAI-compatible provider, work profile: exit 3."""
    from clirun import routesh

    with Upstream() as a, Upstream() as b:
        a.script(context_too_long())
        cfg = audit_config(tmp_path, a, b)
        p = routesh("--config", str(cfg), "--profile", "work", "hello", env={"RS_A": KEYS["pa"], "RS_O": KEYS["pb"]})
        assert p.returncode == 3, p.stderr
        assert "refused, nothing more was sent" in p.stderr and "large-context" in p.stderr
        assert b.generation_requests() == [] and len(a.generation_requests()) == 1
        a.script(replace(refusal(), text=""))
        p = routesh("--config", str(cfg), "--profile", "work", "hello", env={"RS_A": KEYS["pa"], "RS_O": KEYS["pb"]})
        assert p.returncode == 3 and b.generation_requests() == [], p.stderr


def test_gateway_says_when_the_only_step_left_was_refused(tmp_path: Path) -> None:
    with Upstream() as a, Upstream() as b:
        a.script(context_too_long())
        cfg = audit_config(tmp_path, a, b)
        ctx = build(str(cfg), "work")
        gateway = Gateway(ctx, TOKEN, key_fn=lambda profile, provider: KEYS["pa"], log=lambda s: None)
        with RunningGateway(gateway, bind("127.0.0.1", 0)) as running:
            conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
            body = {"model": "routesh-main", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
            conn.request("POST", "/v1/messages", json.dumps(body), {"x-api-key": TOKEN})
            resp = conn.getresponse()
            err = json.loads(resp.read())
        assert resp.status == 400 and err["error"]["type"] == "invalid_request_error"
        assert "prompt is too long" in err["error"]["message"]  # Claude Code still sees why (and can /compact)
        assert "routesh refused to go on" in err["error"]["message"] and "large-context" in err["error"]["message"]
        assert b.generation_requests() == []


def test_shell_says_refused_when_policy_ended_the_request() -> None:
    from routesh.engines.dispatch import Outcome
    from routesh.shell.turn import failure_lines

    out = Outcome("r1", status="error", error="anthropic/claude-sonnet-4-6: HTTP 400: prompt is too long",
                  policy="route large-context: profile 'work' allows only anthropic")
    lines = failure_lines(out) or ""
    assert lines.startswith("refused, nothing more was sent: route large-context") and "prompt is too long" in lines
