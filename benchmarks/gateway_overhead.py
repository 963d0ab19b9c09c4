"""What a gateway costs Claude Code: added latency and streaming throughput, routesh serve vs claude-code-router.

One run, everything on loopback, each server in its own process:

    upstream   tests/upstream.py (a real HTTP/1.1 Anthropic/OpenAI server), one process per reply length
    direct     the load generator talks to the upstream itself
    routesh    `routesh serve`, provider `type: anthropic` (bytes relayed) and `type: openai` (translated)
    ccr        claude-code-router (`ccr start`), with its Anthropic transformer and plain OpenAI, when installed

Printed, as ratios to direct: added latency at the median for a small request and for a recorded
~78 KB Claude Code request (the whole streamed answer, sequential, one keep-alive connection),
throughput (complete streams per second) with 20 and 100 concurrent streams of a one-line answer
(the gateway is the bottleneck) and of a ~400-event answer (the upstream is), and for 1 MB prompts
the time added per request and small requests' p95 while 1 MB requests flow on two connections.
Targets: < 1 ms added (small), < 3 ms (78 KB), >= 0.5x direct throughput, <= 8 ms per MB, small
p95 within 2 ms of direct's while large prompts flow. The gateway's CPU per request (utime+stime from
/proc over each test) is printed too: on a loaded machine it moves far less than the wall-time figures.

    python benchmarks/gateway_overhead.py [--quick] [--no-ccr] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routesh.gateway.client import parse_origin  # noqa: E402

RECORDED = ROOT / "tests" / "data" / "claude_code_requests" / "main_turn_opus_adaptive.json"
TOKEN = "bench-token-0123456789abcdef"
KEY = "sk-bench-upstream-key-0123456789"
SMALL = {"model": "MODEL", "max_tokens": 256, "stream": True,
         "messages": [{"role": "user", "content": "Say hello in one word."}]}


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class Procs:
    """The server processes of this run, stopped at the end whatever happens."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cleanups: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)  # commands run at stop()

    def start(self, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.procs.append(subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True))

    def stop(self) -> None:
        for argv, env in self.cleanups:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                           check=False)
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@dataclass(frozen=True)
class Target:
    """One way to reach the upstream."""

    name: str
    base: str  # http://127.0.0.1:PORT for the latency runs
    long_base: str  # and for the throughput runs (direct: the long-answer upstream)
    headers: tuple[tuple[str, str], ...]
    small_model: str
    long_model: str
    pid: int | None = None  # the gateway's process, whose CPU per request is reported


# ------------------------------------------------------------------------------------------------ the load


def request(target: Target, body: dict[str, Any], model: str) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and bytes of one POST /v1/messages."""
    data = json.dumps({**body, "model": model}, separators=(",", ":")).encode()
    headers = [("content-type", "application/json"), ("anthropic-version", "2023-06-01"),
               ("accept", "text/event-stream"), *target.headers]
    return headers, data


class _Reader(asyncio.Protocol):
    """The load generator's side of one keep-alive connection: as little work per read as possible.

    It does not decode the chunked framing (that would charge the client for the upstream's chunk
    count); an SSE body's chunked encoding ends with the only "0\\r\\n\\r\\n" at the end of a read.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[tuple[int, bytes]] | None = None
        self.buf = b""
        self.head: bytes | None = None
        self.length: int | None = None
        self.received = 0
        self.first = b""
        self.first_at = 0.0  # perf_counter() when the first byte of the body arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        self.done = asyncio.get_running_loop().create_future()
        self.buf, self.head, self.length, self.received, self.first = b"", None, None, 0, b""
        self.first_at = 0.0
        assert self.transport is not None
        self.transport.write(data)
        return self.done

    def data_received(self, data: bytes) -> None:
        if self.head is None:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = self.buf[:end].lower()
            data = self.buf[end + 4:]
            self.buf = b""
            at = self.head.find(b"content-length:")
            if at >= 0:
                self.length = int(self.head[at + 15:].split(b"\r\n", 1)[0])
        if data and not self.first_at:
            self.first_at = time.perf_counter()
        self.received += len(data)
        if len(self.first) < 4096:
            self.first += data[:4096]
        if self.length is not None:
            finished = self.received >= self.length
        else:
            self.buf = (self.buf + data)[-5:]
            finished = self.buf == b"0\r\n\r\n"
        if finished and self.done is not None and not self.done.done():
            self.done.set_result((int(self.head.split(b" ", 2)[1]), self.first))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"connection lost: {exc}"))


class Client:
    """One keep-alive connection to one base URL."""

    def __init__(self, base: str) -> None:
        origin = parse_origin(base)
        self.host, self.port = origin.host, origin.port
        self.proto: _Reader | None = None

    async def request(self, head: bytes, body: bytes) -> int:
        if self.proto is None or self.proto.transport is None or self.proto.transport.is_closing():
            _, self.proto = await asyncio.get_running_loop().create_connection(_Reader, self.host, self.port)
        status, first = await self.proto.start(head + body)
        if status != 200 or b"message_start" not in first:
            raise RuntimeError(f"HTTP {status}: {first[:300]!r}")
        return self.proto.received

    def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()


def encode(target: Target, headers: list[tuple[str, str]], data: bytes, base: str) -> bytes:
    host = base.split("//", 1)[1]
    lines = ["POST /v1/messages HTTP/1.1", f"host: {host}", *(f"{k}: {v}" for k, v in headers),
             f"content-length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def latency(target: Target, body: dict[str, Any], n: int, warmup: int) -> tuple[list[float], list[float]]:
    """(seconds to the end of the answer, seconds to its first byte) per request, sequential, one connection."""
    client = Client(target.base)
    headers, data = request(target, body, target.small_model)
    head = encode(target, headers, data, target.base)
    for _ in range(warmup):
        await client.request(head, data)
    times, firsts = [], []
    for _ in range(n):
        t = time.perf_counter()
        await client.request(head, data)
        times.append(time.perf_counter() - t)
        assert client.proto is not None
        firsts.append(client.proto.first_at - t)
    client.close()
    return times, firsts


def process_cpu_s(pid: int | None) -> float:
    """utime + stime of a process so far (Linux /proc), 0 when unknown: less moved by the load than wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


async def throughput(target: Target, streams: int, seconds: float, long: bool = True) -> tuple[float, float, float]:
    """(complete streams per second, MB/s, the target process's CPU ms per stream) with `streams` concurrent
    clients for `seconds`.

    long: the ~400-event answer (the upstream is the bottleneck), else the one-line answer (the gateway is).
    """
    base, model = (target.long_base, target.long_model) if long else (target.base, target.small_model)
    headers, data = request(target, SMALL, model)
    head = encode(target, headers, data, base)
    done = 0
    nbytes = 0
    clients = [Client(base) for _ in range(streams)]
    for c in clients:  # connect and warm every connection first
        await c.request(head, data)
    stop_at = time.perf_counter() + seconds
    cpu0 = process_cpu_s(target.pid)

    async def worker(client: Client) -> None:
        nonlocal done, nbytes
        while time.perf_counter() < stop_at:
            nbytes += await client.request(head, data)
            done += 1

    t = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - t
    cpu = (process_cpu_s(target.pid) - cpu0) * 1000 / max(done, 1)
    for c in clients:
        c.close()
    return done / elapsed, nbytes / elapsed / 1e6, cpu


# ------------------------------------------------------------------------------------------------ the servers


def start_upstreams(procs: Procs, repeat_long: int) -> tuple[int, int]:
    """Two upstream processes: a short answer (latency) and a long one (throughput)."""
    ports = free_port(), free_port()
    for port, repeat in zip(ports, (1, repeat_long), strict=False):
        procs.start([sys.executable, "-m", "tests.upstream", "--port", str(port), "--repeat", str(repeat)],
                    cwd=str(ROOT))
    for port in ports:
        wait_port(port)
    return ports


def start_routesh(procs: Procs, work: Path, short: int, long: int) -> int:
    """`routesh serve` with four routes: {short, long} x {anthropic, openai}."""
    port = free_port()
    cfg = work / "routes.yaml"
    cfg.write_text(f"""version: 1
default_route: a-short
default_profile: bench
providers:
  a-short: {{type: anthropic, base_url: "http://127.0.0.1:{short}", key_env: BENCH_KEY}}
  a-long:  {{type: anthropic, base_url: "http://127.0.0.1:{long}", key_env: BENCH_KEY}}
  o-short: {{type: openai, base_url: "http://127.0.0.1:{short}/v1", key_env: BENCH_KEY}}
  o-long:  {{type: openai, base_url: "http://127.0.0.1:{long}/v1", key_env: BENCH_KEY}}
routes:
  a-short: {{provider: a-short, model: claude-sonnet-4-6}}
  a-long:  {{provider: a-long, model: claude-sonnet-4-6}}
  o-short: {{provider: o-short, model: gpt-bench}}
  o-long:  {{provider: o-long, model: gpt-bench}}
profiles:
  bench: {{}}
""")
    env = dict(os.environ, BENCH_KEY=KEY, HOME=str(work), XDG_DATA_HOME=str(work / "data"),
               XDG_STATE_HOME=str(work / "state"), XDG_CONFIG_HOME=str(work / "config"),
               ROUTESH_GATEWAY_TOKEN=TOKEN)
    procs.start([sys.executable, "-m", "routesh", "--config", str(cfg), "serve", "--port", str(port)], env=env,
                cwd=str(work))
    wait_port(port)
    return port


def start_ccr(procs: Procs, work: Path, short: int, long: int) -> tuple[int, str] | None:
    """claude-code-router with the same four routes, or None when `ccr` is not installed."""
    ccr = shutil.which("ccr")
    if ccr is None:
        return None
    version = subprocess.run([ccr, "-v"], capture_output=True, text=True, timeout=30).stdout.strip().splitlines()
    port = free_port()
    home = work / "ccr-home"
    (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)

    def prov(name: str, up: int, kind: str) -> dict[str, Any]:
        if kind == "a":
            return {"name": name, "api_base_url": f"http://127.0.0.1:{up}/v1/messages", "api_key": KEY,
                    "models": ["claude-sonnet-4-6"], "transformer": {"use": ["Anthropic"]}}
        return {"name": name, "api_base_url": f"http://127.0.0.1:{up}/v1/chat/completions", "api_key": KEY,
                "models": ["gpt-bench"]}

    config = {"APIKEY": TOKEN, "PORT": port, "HOST": "127.0.0.1", "LOG": False, "API_TIMEOUT_MS": 600000,
              "Providers": [prov("a-short", short, "a"), prov("a-long", long, "a"), prov("o-short", short, "o"),
                            prov("o-long", long, "o")],
              "Router": {"default": "a-short,claude-sonnet-4-6"}}
    (home / ".claude-code-router" / "config.json").write_text(json.dumps(config, indent=2))
    env = dict(os.environ, HOME=str(home))
    procs.start([ccr, "start"], env=env, cwd=str(home))
    procs.cleanups.append(([ccr, "stop"], env))  # `ccr start` may leave its server in another process group
    wait_port(port, 60)
    return port, " ".join(version[-1:]) or "?"


# ------------------------------------------------------------------------------------------------ the run


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


async def large_prompts(target: Target, n: int, mb: float) -> tuple[float, float, float, float]:
    """(median s for one `mb` MB request, p95 s of small requests alone, p95 s of small ones while big ones flow,
    the target process's CPU ms per large request)."""
    filler = "x" * int(mb * 1_000_000)
    big = {**SMALL, "messages": [{"role": "user", "content": filler + " Say hello in one word."}]}
    client = Client(target.base)
    headers, data = request(target, big, target.small_model)
    head = encode(target, headers, data, target.base)
    await client.request(head, data)
    times = []
    cpu0 = process_cpu_s(target.pid)
    for _ in range(n):
        t = time.perf_counter()
        await client.request(head, data)
        times.append(time.perf_counter() - t)
    cpu = (process_cpu_s(target.pid) - cpu0) * 1000 / n
    small_alone, _ = await latency(target, SMALL, n * 5, 5)
    stop = False

    async def flow(c: Client) -> None:
        while not stop:
            await c.request(head, data)

    flows = [asyncio.ensure_future(flow(Client(target.base))) for _ in range(2)]
    await asyncio.sleep(0.2)
    small_busy, _ = await latency(target, SMALL, n * 5, 5)
    stop = True
    await asyncio.gather(*flows)
    client.close()
    return statistics.median(times), p95(small_alone), p95(small_busy), cpu


def head_parse_us() -> tuple[float, float] | None:
    """µs to read a recorded Claude Code request head: routesh's framing.parse_head, and h11 (None without h11)."""
    try:
        import h11

        from routesh.gateway.framing import parse_head
    except ImportError:  # no h11, or a routesh from before framing.py
        return None
    import timeit

    headers = json.loads(RECORDED.read_text()).get("headers") or {}
    lines = ["POST /v1/messages?beta=true HTTP/1.1", "host: 127.0.0.1:3456",
             *(f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")),
             "content-length: 78000"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def with_h11() -> None:
        c = h11.Connection(h11.SERVER)
        c.receive_data(head)
        c.next_event()

    n = 5000
    ours = min(timeit.repeat(lambda: parse_head(head[:-4]), number=n, repeat=3)) / n * 1e6
    theirs = min(timeit.repeat(with_h11, number=n, repeat=3)) / n * 1e6
    return ours, theirs


def p95(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.95)]


async def measure(targets: list[Target], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    big = json.loads(RECORDED.read_text())["body"]
    big = {**big, "stream": True}
    out: dict[str, dict[str, float]] = {}
    for t in targets:
        row: dict[str, float] = {}
        done, first = await latency(t, SMALL, args.n, args.warmup)
        row["small_ms"], row["small_ttfb_ms"] = median_ms(done), median_ms(first)
        done, first = await latency(t, big, args.n_big, args.warmup)
        row["big_ms"], row["big_ttfb_ms"] = median_ms(done), median_ms(first)
        for streams in args.streams:
            for kind in ("small", "long"):
                row[f"{kind}_{streams}_per_s"], _, cpu = await throughput(t, streams, args.seconds, long=kind == "long")
                if t.pid is not None:
                    row[f"cpu_{kind}_{streams}_ms"] = cpu
        if args.large_mb:
            one, alone, busy, cpu = await large_prompts(t, args.n_large, args.large_mb)
            row["large_ms"], row["small_p95_ms"], row["small_p95_busy_ms"] = one * 1000, alone * 1000, busy * 1000
            if t.pid is not None:
                row["cpu_large_ms"] = cpu
        out[t.name] = row
        print(f"  measured {t.name}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), file=sys.stderr,
              flush=True)
    return out


def report(results: dict[str, dict[str, float]], big_kb: float, notes: list[str], args: argparse.Namespace) -> str:
    """The tables: added latency and throughput vs direct (small and long answers), and large prompts."""
    d = results["direct"]
    big = f"{big_kb:.0f} KB"
    tp = [(kind, n) for n in args.streams for kind in ("small", "long")]
    lines = [f"{'':30} {'small: added ms':>15} {big + ': added ms':>15}   "
             + " ".join(f"{f'{kind} {n}':>10}" for kind, n in tp) + f"   {'first byte, added ms: small':>27} {big:>7}",
             f"{'direct (absolute)':30} {d['small_ms']:>15.2f} {d['big_ms']:>15.2f}   "
             + " ".join(f"{d[f'{kind}_{n}_per_s']:>8.0f}/s" for kind, n in tp)
             + f"   {d['small_ttfb_ms']:>27.2f} {d['big_ttfb_ms']:>7.2f}"]
    for name, r in results.items():
        if name == "direct":
            continue
        ratios = " ".join(f"{r[f'{kind}_{n}_per_s'] / d[f'{kind}_{n}_per_s']:>9.2f}x" for kind, n in tp)
        lines.append(f"{name:30} {r['small_ms'] - d['small_ms']:>+15.2f} {r['big_ms'] - d['big_ms']:>+15.2f}   "
                     f"{ratios}   {r['small_ttfb_ms'] - d['small_ttfb_ms']:>+27.2f} "
                     f"{r['big_ttfb_ms'] - d['big_ttfb_ms']:>+7.2f}")
    lines.append("throughput columns: complete streams/s with N concurrent clients; 'small' = one-line answer "
                 "(the gateway is the bottleneck), 'long' = ~400-event answer (the upstream is)")
    if args.large_mb:
        lines += ["", f"{'large prompts':30} {f'{args.large_mb:g} MB request, ms':>20} {'small p95 alone':>16} "
                      f"{'small p95 while large flow':>27} {'p95 added by the flow':>22}"]
        for name, r in results.items():
            one = f"{r['large_ms']:.2f}" if name == "direct" else f"{r['large_ms'] - d['large_ms']:+.2f}"
            lines.append(f"{name:30} {one:>20} {r['small_p95_ms']:>16.2f} {r['small_p95_busy_ms']:>27.2f} "
                         f"{r['small_p95_busy_ms'] - r['small_p95_ms']:>+22.2f}")
        lines.append("(direct: absolute ms; routesh rows: ms added to direct's)")
    cpu_rows = [(name, r) for name, r in results.items() if "cpu_small_20_ms" in r]
    if cpu_rows:
        cols = [k for k in cpu_rows[0][1] if k.startswith("cpu_")]
        lines += ["", f"{'gateway CPU per request, ms':30} " + " ".join(f"{k[4:-3]:>10}" for k in cols)]
        lines += [f"{name:30} " + " ".join(f"{r[k]:>10.3f}" for k in cols) for name, r in cpu_rows]
        lines.append("(utime+stime of the gateway process over each test / requests completed; less moved by the "
                     "load than wall time)")
    lines.append("targets (routesh): small < 1 ms, ~78 KB < 3 ms, throughput >= 0.5x direct, <= 8 ms per MB, "
                 "small p95 within 2 ms of direct's while large prompts flow")
    lines += notes
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="small requests per target (after warm-up)")
    ap.add_argument("--n-big", type=int, default=150, help="78 KB requests per target")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--streams", type=lambda v: [int(x) for x in v.split(",")], default=[20, 100],
                    help="concurrent streams for the throughput tests, comma-separated")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of the throughput test per target")
    ap.add_argument("--repeat", type=int, default=100, help="long answer: the reply's deltas repeated N times")
    ap.add_argument("--large-mb", type=float, default=1.0, help="size of the large-prompt test (0: skip it)")
    ap.add_argument("--n-large", type=int, default=20, help="large-prompt requests per target")
    ap.add_argument("--quick", action="store_true", help="fewer requests, shorter throughput runs")
    ap.add_argument("--no-ccr", action="store_true", help="leave claude-code-router out")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.n_big, args.warmup, args.seconds = 100, 60, 10, 2.0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers are stopped on `timeout` too
    procs = Procs()
    work = Path(tempfile.mkdtemp(prefix="routesh-bench-"))
    notes: list[str] = []
    try:
        short, long = start_upstreams(procs, args.repeat)
        rport = start_routesh(procs, work, short, long)
        rpid = procs.procs[-1].pid
        auth = (("authorization", f"Bearer {TOKEN}"),)
        routesh = f"http://127.0.0.1:{rport}"
        targets = [
            Target("direct", f"http://127.0.0.1:{short}", f"http://127.0.0.1:{long}", (("x-api-key", KEY),),
                   "claude-sonnet-4-6", "claude-sonnet-4-6"),
            Target("routesh (anthropic relay)", routesh, routesh, auth, "a-short", "a-long", rpid),
            Target("routesh (openai translate)", routesh, routesh, auth, "o-short", "o-long", rpid),
        ]
        ccr = None if args.no_ccr else start_ccr(procs, work, short, long)
        if ccr is not None:
            cport, version = ccr
            notes.append(f"claude-code-router: `ccr` {version}")
            c = f"http://127.0.0.1:{cport}"
            targets += [
                Target("ccr (Anthropic transformer)", c, c, (("x-api-key", TOKEN),), "a-short,claude-sonnet-4-6",
                       "a-long,claude-sonnet-4-6"),
                Target("ccr (openai)", c, c, (("x-api-key", TOKEN),), "o-short,gpt-bench", "o-long,gpt-bench"),
            ]
        else:
            notes.append("claude-code-router: not installed (`npm install -g @musistudio/claude-code-router`); "
                         "its rows are left out" if not args.no_ccr else "claude-code-router: left out (--no-ccr)")
        recorded = json.loads(RECORDED.read_text())["body"]
        big_kb = len(json.dumps(recorded, separators=(",", ":"), ensure_ascii=False).encode()) / 1000
        print(f"gateway overhead: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; "
              f"{args.n} small / {args.n_big} big requests, {args.streams} streams x {args.seconds:.0f}s each",
              file=sys.stderr, flush=True)
        results = asyncio.run(measure(targets, args))
        parse = head_parse_us()
        if parse is not None:
            notes.append(f"request head parse (recorded Claude Code head): routesh {parse[0]:.1f} µs, "
                         f"h11 {parse[1]:.1f} µs ({parse[1] / parse[0]:.1f}x)")
        print(report(results, big_kb, notes, args))
        if args.json:
            print(json.dumps(results, indent=2))
        return 0
    finally:
        procs.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
