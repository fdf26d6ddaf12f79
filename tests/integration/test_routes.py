"""The app's routes: each path answered by its own route, whatever order they are included in
(api/app.py puts the routes that carry traffic first, for speed)."""

from __future__ import annotations

import base64
import re
import secrets

from fastapi.routing import APIRoute
from starlette.routing import Match, Route

from smsvia.api.app import create_app
from smsvia.config import Settings


def _app(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    return create_app(settings)  # not started: no database is opened


def _routes(app) -> list[Route]:
    """Every endpoint route, through the included routers."""
    found: list[Route] = []
    for candidate in app.router.routes:
        router = getattr(candidate, "original_router", None)
        found.extend(router.routes if router is not None else [candidate])
    return [route for route in found if isinstance(route, APIRoute | Route)]


def _scope(app, method: str, path: str) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": app,
    }


def _answering(app, method: str, path: str):
    """The route the app's router picks for `method path`, as a request would be routed."""
    scope = _scope(app, method, path)
    for candidate in app.router.routes:
        match, _ = candidate.matches(scope)
        if match != Match.FULL:
            continue
        if hasattr(candidate, "_match"):  # an included router: which of its routes
            return candidate._match(scope)[2]
        return candidate
    return None


def _example(path: str) -> str:
    return re.sub(r"\{[^}:]+:path\}", "a/b", re.sub(r"\{[^}:]+\}", "x1", path))


def test_every_path_is_answered_by_its_own_route(tmp_path):
    app = _app(tmp_path)
    routes = _routes(app)
    assert len(routes) > 50
    for route in routes:
        for method in sorted(route.methods or ()):
            answering = _answering(app, method, _example(route.path))
            assert answering is not None, f"{method} {route.path}: no route"
            assert answering.endpoint is route.endpoint, (
                f"{method} {route.path} is answered by {answering.path}"
            )


# Sends, clicks on a campaign's links, RBM's events: matched before the admin API and the
# dashboard's many routes are walked.
TRAFFIC = [
    ("POST", "/2010-04-01/Accounts/AC1/Messages.json"),
    ("POST", "/v1/messages"),
    ("GET", "/l/x1"),
    ("POST", "/rcs/x1/events"),
]


def _position(app, method: str, path: str) -> int:
    """Which of the app's top-level routes (an included router, mostly) takes the request."""
    scope = _scope(app, method, path)
    return next(
        i for i, route in enumerate(app.router.routes) if route.matches(scope)[0] == Match.FULL
    )


def test_the_routes_that_carry_traffic_come_before_the_dashboard_and_admin_api(tmp_path):
    app = _app(tmp_path)
    later = min(_position(app, "GET", path) for path in ("/campaigns", "/v1/contacts"))
    for method, path in TRAFFIC:
        assert _position(app, method, path) < later, f"{method} {path}"
