"""The user's HTTP proxy: the gateway's upstream connections honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY (real sockets)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_gateway_server import ANTH_KEY, CONFIG, GW, OAI_KEY, _gateway
from test_tls_upstreams import answer_text, request, tls_upstream  # noqa: F401 - fixture
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.gateway.client import parse_origin
from routesh.gateway.proxy import proxy_for


class TunnelProxy:
    """A real HTTP proxy on loopback: tunnels CONNECT, refuses anything else with 502, remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []  # each request head, as received
        self.tunnelled: list[bytes] = []  # bytes that went through tunnels (TLS: must not show the key)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._server = server
            self._ready.set()
            await server.serve_forever()

        try:
            self._loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.seen.append(head)
        if not head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        up_r, up_w = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, record: bool) -> None:
            try:
                while data := await r.read(65536):
                    if record:
                        self.tunnelled.append(data)
                    w.write(data)
                    await w.drain()
            except ConnectionError:
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False))

    def __enter__(self) -> TunnelProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(self._loop)])
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def proxy() -> Iterator[TunnelProxy]:
    with TunnelProxy() as p:
        yield p


def _proxied_gw(up: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[GW]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=up.url))
    yield from _gateway(up, tmp_path, cfg, None)


def test_https_upstream_goes_through_the_users_proxy_in_a_tunnel(
        tls_upstream: Upstream, proxy: TunnelProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for gw in _proxied_gw(tls_upstream, tmp_path, monkeypatch, {"HTTPS_PROXY": proxy.url, "NO_PROXY": "example.org"}):
        status, _, body = gw.post(request())
        assert status == 200 and answer_text(body) == "Hello from claude-sonnet-4-6."
        port = tls_upstream.url.rsplit(":", 1)[1]
        assert proxy.seen and proxy.seen[0].startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode())
        tunnelled = b"".join(proxy.tunnelled)
        assert tunnelled and ANTH_KEY.encode() not in tunnelled and b"Hello" not in tunnelled  # TLS end to end
        [req] = tls_upstream.generation_requests()
        assert req.header("x-api-key") == ANTH_KEY


def test_no_proxy_bypasses_the_proxy(tls_upstream: Upstream, proxy: TunnelProxy, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for gw in _proxied_gw(tls_upstream, tmp_path, monkeypatch, {"https_proxy": proxy.url, "no_proxy": "127.0.0.1"}):
        status, _, body = gw.post(request())
        assert status == 200 and answer_text(body) == "Hello from claude-sonnet-4-6."
        assert proxy.seen == []


def test_plain_http_upstream_uses_the_absolute_form_and_a_refusing_proxy_is_a_clear_error(
        upstream: Upstream, proxy: TunnelProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"HTTP_PROXY": f"http://u%40x:p%3Aw@127.0.0.1:{proxy.port}"}
    for gw in _proxied_gw(upstream, tmp_path, monkeypatch, env):
        status, _, body = gw.post(request())
        assert status == 502  # this proxy only tunnels
        head = proxy.seen[0].decode()
        assert head.startswith(f"POST {upstream.url}/v1/messages?beta=true HTTP/1.1")
        assert "proxy-authorization: Basic dUB4OnA6dw==" in head  # u@x:p:w, unquoted
        assert upstream.generation_requests() == []
        assert "p:w" not in body.decode() and "u@x" not in body.decode()


def test_proxy_for_follows_curl_rules() -> None:
    https = parse_origin("https://api.anthropic.com")
    assert proxy_for(https, {}) is None
    assert proxy_for(https, {"http": "http://p:1"}) is None  # HTTP_PROXY is not for https upstreams
    p = proxy_for(https, {"https": "p.corp:3128"})
    assert p is not None and (p.host, p.port, p.authorization) == ("p.corp", 3128, None)
    assert proxy_for(https, {"all": "http://a:8080"}).host == "a"  # type: ignore[union-attr]
    assert proxy_for(https, {"https": "http://p:1", "no": "anthropic.com"}) is None
    assert proxy_for(https, {"https": "http://p:1", "no": "*"}) is None
    assert proxy_for(parse_origin("https://openrouter.ai/api/v1"), {"https": "http://p:1", "no": "anthropic.com"})
    with pytest.raises(ValueError, match="only http://"):
        proxy_for(https, {"https": "socks5://p:1080"})
