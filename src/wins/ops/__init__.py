"""Server operations: process supervision helpers (systemd notify, gunicorn worker, uWSGI entry point) and
backups. Nothing here is imported by the web app itself."""
