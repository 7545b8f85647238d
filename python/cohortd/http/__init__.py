"""The HTTP/JSON API and the web console (``cohortd serve --http HOST:PORT``).

Built on the same service layer as the gRPC server (the embedded ``Project``):
``api.py`` (JSON routes), ``pages.py`` + ``templates/`` + ``static/`` (the
console), ``charts.py`` (SVG), ``auth.py`` (keys, session cookie, CSRF),
``errors.py`` (gRPC codes as JSON), ``sse.py`` (watch), ``server.py`` (uvicorn).
"""

from cohortd.http.app import build_app
from cohortd.http.server import HttpServer

__all__ = ["HttpServer", "build_app"]
