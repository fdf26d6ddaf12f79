"""What every dashboard page shares: the signed-in caller and rendering a template."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from smsvia.web.session import WebSession, at_least, current_session
from smsvia.web.templating import templates

SignedIn = Annotated[WebSession, Depends(current_session)]  # any role: viewer and above
Marketer = Annotated[WebSession, Depends(at_least("marketer"))]  # sends, campaigns, segments
Owner = Annotated[WebSession, Depends(at_least("owner"))]  # users, everything


def render(
    request: Request, template: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)
