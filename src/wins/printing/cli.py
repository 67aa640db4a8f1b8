"""`wins print-test`: print a sample slip to check a printer and its URL."""

from __future__ import annotations

from pathlib import Path

import click

from wins import clock
from wins.printing.i18n import languages, translate
from wins.printing.layout import Slip, SlipOptions
from wins.printing.printers import PrinterUrlError, open_printer, parse_printer_url, read_status
from wins.printing.spool import print_slip


def sample_slip(language: str = "en", *, footer: str = "") -> Slip:
    return Slip(
        branch_name="WINS",
        number="A001",
        service_name=translate(language, "sample"),
        issued_at=clock.utcnow().astimezone(),
        people_ahead=2,
        estimated_wait_seconds=300,
        estimated_wait_range=[180, 480],
        tracking_url="https://github.com/wins-queue/wins",
        footer=footer or "Printer test: if you can read this, printing works.",
        language=language,
    )


@click.command("print-test")
@click.option(
    "--printer",
    "url",
    required=True,
    envvar="WINS_PRINTER_URL",
    help="tcp://HOST:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0, dummy://",
)
@click.option("--language", type=click.Choice(languages()), default="en", show_default=True)
@click.option("--width", type=int, default=512, show_default=True, help="Printable width in dots (384 for 58 mm).")
@click.option("--no-native-qr", is_flag=True, help="Send the QR code as a picture (printers without a QR engine).")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for the printer.")
@click.option("--status-only", is_flag=True, help="Only read and show the printer's status.")
@click.option("--save-preview", type=click.Path(dir_okay=False, path_type=Path), help="Also write a PNG preview.")
def print_test(
    url: str,
    language: str,
    width: int,
    no_native_qr: bool,
    timeout: float,
    status_only: bool,
    save_preview: Path | None,
) -> None:
    """Print a sample slip (or just read the status) to check a ticket printer."""
    try:
        parse_printer_url(url)
    except PrinterUrlError as exc:
        raise click.ClickException(exc.message) from exc
    if status_only:
        from wins.printing.printers import PrinterConnectionError, connect

        printer = open_printer(url, timeout=timeout)
        try:
            connect(printer)
            status = read_status(printer, timeout=timeout)
        except PrinterConnectionError as exc:
            raise click.ClickException(f"Printer {url}: {exc}") from exc
        finally:
            printer.close()
        click.echo(f"Printer {url}: {status.state}" + (f" ({status.detail})" if status.detail else ""))
        return
    slip = sample_slip(language)
    options = SlipOptions(width_px=width, native_qr=not no_native_qr)
    if save_preview is not None:
        from wins.printing.preview import render_preview_png

        save_preview.write_bytes(render_preview_png(slip, options))
        click.echo(f"Preview written to {save_preview}")
    result = print_slip(url, slip, timeout=timeout, options=options)
    if not result.ok:
        raise click.ClickException(f"Printer {url}: {result.printer_state}: {result.message}")
    click.echo(f"Printer {url}: {result.printer_state}. {result.message} (attempts: {result.attempts})")
