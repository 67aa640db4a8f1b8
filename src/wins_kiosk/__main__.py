"""`wins-kiosk --config FILE`: run the customer kiosk."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from wins_kiosk.config import ConfigError, KioskConfig, load_config

DEFAULT_CONFIG = "/etc/wins/kiosk.toml"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("WINS_KIOSK_CONFIG", DEFAULT_CONFIG),
    show_default=DEFAULT_CONFIG,
    help="The kiosk's TOML configuration (see deploy/kiosk.example.toml). Env: WINS_KIOSK_CONFIG.",
)
@click.option("--windowed", is_flag=True, help="Run in a window whatever the file says (setting up, testing).")
@click.option("--check", is_flag=True, help="Check the configuration and the server connection, then exit.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def main(config_path: Path, windowed: bool, check: bool, log_level: str) -> None:
    """WINS customer kiosk: a full-screen touch app that issues and prints queue tickets."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if windowed:
        from dataclasses import replace

        config = replace(config, fullscreen=False)
    if check:
        sys.exit(_check(config))
    from wins_kiosk.app import run

    run(config)


def _check(config: KioskConfig) -> int:
    from wins_kiosk.client import KioskClient, KioskClientError

    with KioskClient(config.server_url, config.device_token, timeout=config.request_timeout_seconds) as client:
        try:
            branch = client.branch()
            services = client.services()
        except KioskClientError as exc:
            click.echo(f"server {config.server_url}: {exc}", err=True)
            return 1
    click.echo(f"server {config.server_url}: branch {branch.name!r}, {len(services)} active service(s)")
    click.echo(f"printer: {config.printer_url or 'none'}; spool: {config.spool_dir}")
    return 0


if __name__ == "__main__":
    main()
