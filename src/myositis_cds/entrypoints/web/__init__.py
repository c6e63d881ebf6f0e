"""The clinic web application: FastAPI JSON API under ``/api/v1`` and server-rendered pages.

``create_app(WebSettings(database_url=...))`` returns the ASGI application;
``myositis-cds serve`` runs it with uvicorn.
"""

from myositis_cds.entrypoints.web.app import OPENAPI_URL, create_app
from myositis_cds.entrypoints.web.settings import WebSettings

__all__ = ["OPENAPI_URL", "WebSettings", "create_app"]
