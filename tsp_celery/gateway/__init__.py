"""The gateway: an HTTP API (REST + server-sent events) and a jobs page in front of a cluster.

Clients hold an API token, never the Redis credentials. ``create_app`` builds the ASGI app;
``tsp-celery gateway`` serves it with uvicorn. See docs/gateway.md.
"""
