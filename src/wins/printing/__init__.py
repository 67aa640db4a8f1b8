"""Thermal ticket printing (python-escpos), shared by the server and the kiosk.

from wins.printing import Slip, print_slip, PrintSpool, open_printer, render_preview_png
"""

import wins.escpos_setup  # noqa: F401  (first: imports escpos without a temporary folder or a log handler)
from wins.printing.layout import Slip, SlipOptions, render_slip, slip_bytes
from wins.printing.preview import render_preview_png
from wins.printing.printers import PrinterStatus, PrinterUrlError, open_printer, parse_printer_url, read_status
from wins.printing.spool import PrintResult, PrintSpool, SpoolJob, print_job, print_slip

__all__ = [
    "PrintResult",
    "PrintSpool",
    "PrinterStatus",
    "PrinterUrlError",
    "Slip",
    "SlipOptions",
    "open_printer",
    "parse_printer_url",
    "print_job",
    "print_slip",
    "read_status",
    "render_preview_png",
    "render_slip",
    "slip_bytes",
    "SpoolJob",
]
