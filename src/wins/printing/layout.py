"""The ticket slip: a pure function from a `Slip` to ESC/POS commands on a python-escpos printer object.

Nothing here opens a connection or reads a clock: `render_slip` only calls the printer object's methods, so
it is tested byte for byte on python-escpos's `Dummy`, and `slip_bytes` gives the finished job.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import qrcode
from escpos.escpos import Escpos
from escpos.image import EscposImage
from escpos.printer import Dummy
from PIL import Image

from wins.printing.fonts import text_image
from wins.printing.i18n import translate
from wins.wait_text import wait_range_text

# One text line of python-escpos' font A is 12 × 24 dots.
CHAR_HEIGHT = 24
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


@dataclass(frozen=True)
class Slip:
    """Everything printed on a customer's ticket slip."""

    branch_name: str
    number: str
    service_name: str
    issued_at: datetime  # aware; shown in its own time zone (give it in the branch's)
    people_ahead: int
    estimated_wait_seconds: int
    estimated_wait_range: Sequence[int] | None  # [low, high] seconds
    tracking_url: str
    footer: str = ""
    language: str = "en"
    logo_path: str | None = None

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("Slip.issued_at must be an aware datetime (with a time zone).")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["issued_at"] = self.issued_at.isoformat()
        data["estimated_wait_range"] = list(self.estimated_wait_range) if self.estimated_wait_range else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Slip:
        values = dict(data)
        values["issued_at"] = datetime.fromisoformat(values["issued_at"])
        return cls(**values)


@dataclass(frozen=True)
class SlipOptions:
    """How the slip is laid out for a given printer."""

    width_px: int = 512  # printable dots: 512 fits every 80 mm printer (576 on most); 384 for 58 mm
    codepage: str = "CP858"  # Western European + euro sign, known to virtually every ESC/POS printer
    native_qr: bool = True  # GS ( k; set False for old printers without a QR engine (sent as a picture)
    qr_size: int = 6  # dots per QR module
    number_size: int = 6  # character magnification of the ticket number (1–8)
    cut: str = "PART"  # PART leaves a hinge so the slip does not fall; FULL cuts through
    fonts: tuple[str, ...] = field(default_factory=tuple)  # extra TrueType fonts for text shown as pictures


def clean(text: str) -> str:
    """Printable text only: a control character in a name would otherwise be an ESC/POS command."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).strip()


def can_print_as_text(printer: Escpos, text: str, codepage: str) -> bool:
    encoder = printer.magic.encoder
    return all(encoder.can_encode(codepage, ch) for ch in text)


def wait_text(slip: Slip) -> str:
    lang = slip.language
    if slip.estimated_wait_range and slip.estimated_wait_range[1] > 0:
        # The kiosks' and the phone's words too (one wording, wins.wait_text).
        low, high = slip.estimated_wait_range[0], slip.estimated_wait_range[1]
        return translate(lang, "wait_label", wait=wait_range_text(low, high, lang))
    minutes = math.ceil(slip.estimated_wait_seconds / 60)
    if minutes <= 0:
        return translate(lang, "wait_none")
    return translate(lang, "wait", minutes=minutes)


def slip_lines(slip: Slip) -> dict[str, str]:
    """The texts of the slip, translated (also used by screens that show the same facts)."""
    lang = slip.language
    ahead = (
        translate(lang, "you_are_next")
        if slip.people_ahead <= 0
        else translate(lang, "people_ahead", count=slip.people_ahead)
    )
    issued = f"{slip.issued_at:%Y-%m-%d %H:%M}"
    if lang.split("-")[0].lower() in RTL_LANGUAGES:
        # Keep the date left-to-right inside right-to-left text (Unicode isolates), or it reads backwards.
        issued = f"\u2066{issued}\u2069"
    return {
        "branch": clean(slip.branch_name),
        "your_number": translate(lang, "your_number"),
        "number": clean(slip.number),
        "service": clean(slip.service_name),
        "issued": f"{translate(lang, 'issued')} {issued}",
        "ahead": ahead,
        "wait": wait_text(slip),
        "scan": translate(lang, "scan"),
    }


def _line(printer: Escpos, text: str, options: SlipOptions, *, size: int = 1, bold: bool = False) -> None:
    """One centred line: as text when the code page has every character, else as a picture."""
    if not text:
        return
    if can_print_as_text(printer, text, options.codepage):
        printer.set(custom_size=True, width=size, height=size, bold=bold)
        printer.textln(text)
        return
    picture = text_image(
        text, size=int(CHAR_HEIGHT * size * 0.9), width=options.width_px, bold=bold, extra_fonts=options.fonts
    )
    raster(printer, picture)


def raster(printer: Escpos, picture: Image.Image) -> None:
    """GS v 0 (raster bit image), the picture command every ESC/POS printer knows.

    Written here rather than with `printer.image()`, which prints a warning on stdout for every picture
    when the printer profile does not state the paper width.
    """
    image = EscposImage(picture)
    width_bytes, height = image.width_bytes, image.height
    header = b"\x1dv0\x00" + bytes((width_bytes & 0xFF, width_bytes >> 8, height & 0xFF, height >> 8))
    printer._raw(header + image.to_raster_format())


def _qr(printer: Escpos, url: str, options: SlipOptions) -> None:
    if options.native_qr:
        printer.qr(url, size=options.qr_size, native=True)
        return
    code = qrcode.QRCode(box_size=options.qr_size, border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    raster(printer, code.make_image().get_image().convert("L"))
    printer.ln()


def _logo(printer: Escpos, path: str, options: SlipOptions) -> None:
    with Image.open(Path(path)) as source:
        logo = source.convert("RGBA")
    logo.thumbnail((options.width_px, 160))
    canvas = Image.new("RGBA", (options.width_px, logo.height), (255, 255, 255, 255))
    canvas.alpha_composite(logo, ((options.width_px - logo.width) // 2, 0))
    raster(printer, canvas)


def render_slip(printer: Escpos, slip: Slip, options: SlipOptions | None = None) -> None:
    """Lay the slip out on `printer` (any python-escpos printer; `Dummy` to get the bytes)."""
    options = options or SlipOptions()
    lines = slip_lines(slip)
    printer.hw("INIT")  # ESC @: forget whatever styles an earlier job left behind
    # ESC @ also resets the code page, so python-escpos must forget which one it thinks is selected.
    printer.magic.encoding = None
    printer.charcode(options.codepage)
    printer.set(align="center")
    if slip.logo_path and Path(slip.logo_path).is_file():
        _logo(printer, slip.logo_path, options)
    _line(printer, lines["branch"], options, size=2, bold=True)
    printer.ln()
    _line(printer, lines["your_number"], options)
    _line(printer, lines["number"], options, size=max(1, min(options.number_size, 8)), bold=True)
    _line(printer, lines["service"], options, size=2, bold=True)
    printer.ln()
    _line(printer, lines["issued"], options)
    _line(printer, lines["ahead"], options)
    _line(printer, lines["wait"], options)
    printer.ln()
    _qr(printer, slip.tracking_url, options)
    _line(printer, lines["scan"], options)
    if slip.footer.strip():
        printer.ln()
        for footer_line in slip.footer.splitlines():
            _line(printer, clean(footer_line), options)
    printer.set(custom_size=True, width=1, height=1, bold=False)
    printer.cut(mode=options.cut)


def slip_bytes(slip: Slip, options: SlipOptions | None = None, *, profile: str | None = None) -> bytes:
    """The complete print job for `slip`."""
    dummy = Dummy(profile=profile) if profile else Dummy()
    render_slip(dummy, slip, options)
    return bytes(dummy.output)
