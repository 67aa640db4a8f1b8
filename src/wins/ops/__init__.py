"""Server operations: process supervision helpers (systemd notify, gunicorn worker, uWSGI entry point) and
backups. The web app imports only `presence` (the lock that tells `wins restore` a server is running)."""
