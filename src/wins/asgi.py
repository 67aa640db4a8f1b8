"""ASGI entry point for servers: `gunicorn -k uvicorn.workers.UvicornWorker wins.asgi:app`."""

from wins.app import create_app

app = create_app()
