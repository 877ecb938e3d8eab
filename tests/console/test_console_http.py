"""The console over HTTP without a browser: the token gate and sign-in beyond loopback, the
security headers, and how trace text is made safe to show."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from rft_console.rendering import Pages, visible
from rft_console.service import build_app
from rft_console.settings import ConsoleSettings


def client(settings: ConsoleSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(settings)), base_url="http://console"
    )


async def test_on_loopback_the_console_needs_no_token() -> None:
    async with client(ConsoleSettings(http_host="127.0.0.1")) as http:
        home = await http.get("/")
        assert home.status_code == 200 and "The journey" in home.text
        csp = home.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


async def test_beyond_loopback_a_browser_signs_in_with_the_token() -> None:
    settings = ConsoleSettings(http_host="0.0.0.0", api_token=SecretStr("console-secret"))
    async with client(settings) as http:
        page = await http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert (await http.get("/d/demo/sanitize")).status_code == 401  # a script: no redirect
        assert (await http.get("/login")).status_code == 200
        wrong = await http.post("/login", data={"token": "guess"})
        assert wrong.status_code == 401 and "rft_token" not in wrong.cookies
        signed_in = await http.post("/login", data={"token": "console-secret"})
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert (await http.get("/")).status_code == 200  # the cookie is the token


async def test_beyond_loopback_without_a_token_configured_nothing_is_served() -> None:
    async with client(ConsoleSettings(http_host="0.0.0.0")) as http:
        assert (await http.post("/login", data={"token": ""})).status_code in (401, 422)
        assert (await http.get("/d/demo/sanitize")).status_code == 401


def test_control_characters_of_a_trace_read_as_escapes() -> None:
    assert visible("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert visible("a\u202eb\tc\nd") == "a\\u202eb\tc\nd"  # bidi override shown, tab and
    # newline kept


def test_trace_text_is_escaped_in_every_template() -> None:
    html = Pages().env.from_string("{{ text | trace }}").render(
        text="<script>alert(1)</script>\x1b[2J"
    )
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J"


def test_rft_up_tells_the_console_where_every_service_listens() -> None:
    from rft_cli.stack import console_urls

    ports = {"sanitizer": 1, "categorizer": 2, "generator": 3, "grader": 4,
             "trainer-gateway": 5, "embedder": 6}
    urls = console_urls(ports)
    assert urls == {
        "RFT_CONSOLE_SANITIZER_URL": "http://127.0.0.1:1",
        "RFT_CONSOLE_CATEGORIZER_URL": "http://127.0.0.1:2",
        "RFT_CONSOLE_GENERATOR_URL": "http://127.0.0.1:3",
        "RFT_CONSOLE_GRADER_URL": "http://127.0.0.1:4",
        "RFT_CONSOLE_GATEWAY_URL": "http://127.0.0.1:5",
    }
