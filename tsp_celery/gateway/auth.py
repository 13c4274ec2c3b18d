"""Bearer-token authentication: every job route depends on ``caller``.

A plain ``def`` on purpose: the Redis lookup is blocking, so FastAPI runs it in its thread pool
instead of on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tsp_celery.gateway.tokens import TokenInfo

bearer = HTTPBearer(auto_error=False, description="A token from `tsp-celery tokens create`.")


def caller(request: Request,
           cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> TokenInfo:
    """The verified token of this request; 401 (with ``WWW-Authenticate``) otherwise."""
    info = None if cred is None else request.app.state.tokens.verify(cred.credentials)
    if info is None:
        detail = "missing bearer token" if cred is None else "unknown or revoked token"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
    return info
