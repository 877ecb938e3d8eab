"""Assembles the console: the runtime's app (probes, metrics, the API token gate), static
files, the login, and one router per screen."""

from __future__ import annotations

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from rft_console.rendering import STATIC, Pages, is_htmx
from rft_console.screens import (
    coverage,
    dryrun,
    generate,
    grader,
    journey,
    results,
    review,
    sanitize,
    split,
    topics,
    training,
)
from rft_console.screens.context import Console
from rft_console.security import SecurityHeaders
from rft_console.settings import ConsoleSettings
from rft_console.upstream import Upstream, UpstreamError
from rft_runtime.http.app import create_app
from rft_runtime.http.auth import TOKEN_COOKIE, token_matches

LOGIN_PATHS = ("/login", "/static/console.css")


def build_app(settings: ConsoleSettings, upstream: Upstream | None = None) -> FastAPI:
    upstream = upstream or Upstream(settings)
    app = create_app(settings, title="rft console", managed=[upstream], open_paths=LOGIN_PATHS,
                     login_path="/login")
    app.add_middleware(SecurityHeaders)
    pages = Pages()
    console = Console(upstream, pages, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(UpstreamError)
    async def upstream_failed(request: Request, error: UpstreamError) -> Response:
        if is_htmx(request):
            # 200 and retargeted: htmx swaps the message into the alert region (a 5xx would
            # not be swapped, and the user would see nothing)
            return pages.render(
                request, "alert.html", message=error.message,
                headers={"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"},
            )
        return pages.render(request, "error.html", status_code=502, message=error.message,
                            title="Service error")

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request, dataset: str | None = None) -> Response:
        chosen = (dataset or settings.dataset).strip() or settings.dataset
        services = {name: bool(url) for name, url in upstream.urls.items()}
        return pages.render(request, "home.html", title="Journey", dataset=chosen,
                            services=services)

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return pages.render(request, "login.html", title="Sign in", failed=False)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request, token: str = Form()) -> Response:
        if not token_matches(token, settings.api_token):
            return pages.render(request, "login.html", status_code=401, title="Sign in",
                                failed=True)
        response = RedirectResponse("/", status_code=303)
        # HttpOnly: no script reads it; SameSite=Strict: another site's form cannot use it
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    for screen in (
        sanitize, topics, review, coverage, generate, split, grader, dryrun, training,
        results, journey,
    ):
        app.include_router(screen.router(console))
    return app
