"""The slip layout, byte for byte on python-escpos's Dummy (the way python-escpos tests itself)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from escpos.printer import Dummy
from PIL import Image

from tests.printing.conftest import make_slip
from wins.printing import Slip, SlipOptions, render_preview_png, render_slip, slip_bytes
from wins.printing.layout import slip_lines

ESC, GS = b"\x1b", b"\x1d"
BOLD = {True: ESC + b"E\x01", False: ESC + b"E\x00"}


def size(n: int) -> bytes:
    return GS + b"!" + bytes([(n - 1) << 4 | (n - 1)])


def line(text: str, n: int = 1, *, bold: bool = False) -> bytes:
    return size(n) + BOLD[bold] + text.encode("cp858") + b"\n"


def qr(data: str, dots: int = 6) -> bytes:
    def k(fn: bytes, payload: bytes, m: bytes = b"") -> bytes:
        body = b"1" + fn + m + payload
        return GS + b"(k" + len(body).to_bytes(2, "little") + body

    return (
        k(b"A", b"2\x00") + k(b"C", bytes([dots])) + k(b"E", b"0") + k(b"P", data.encode(), b"0") + k(b"Q", b"", b"0")
    )


def rasters(job: bytes) -> list[tuple[int, int, bytes]]:
    """(width in bytes, height, data) of every GS v 0 picture."""
    found, i = [], 0
    while (i := job.find(GS + b"v0", i)) >= 0:
        xl, xh, yl, yh = job[i + 4 : i + 8]
        w, h = xl + 256 * xh, yl + 256 * yh
        found.append((w, h, job[i + 8 : i + 8 + w * h]))
        i += 8 + w * h
    return found


def without_rasters(job: bytes) -> bytes:
    out, i = b"", 0
    for w, h, data in rasters(job):
        start = job.find(GS + b"v0", i)
        out += job[i:start]
        i = start + 8 + len(data)
        assert len(data) == w * h
    return out + job[i:]


def test_latin_slip_byte_for_byte(slip: Slip) -> None:
    printer = Dummy()
    render_slip(printer, slip)
    expected = (
        ESC + b"@"  # reset
        + ESC + b"t\x13"  # code page CP858
        + ESC + b"a\x01"  # centred
        + line("Main Street", 2, bold=True)
        + b"\n"
        + line("Your number")
        + line("A007", 6, bold=True)  # the number, six times the normal size
        + line("General", 2, bold=True)
        + b"\n"
        + line("Issued 2024-05-03 16:05")
        + line("People ahead of you: 3")
        + line("Estimated wait: 5 to 15 min")
        + b"\n"
        + qr("http://queue.lan:8000/t/abcDEF123")
        + line("Scan to follow your turn on your phone")
        + b"\n"
        + line("Thank you")
        + size(1) + BOLD[False]
        + ESC + b"d\x06"  # feed past the cutter
        + GS + b"V\x01"  # partial cut
    )  # fmt: skip
    assert printer.output == expected
    assert slip_bytes(slip) == expected


def test_number_is_very_large_and_qr_carries_the_tracking_url(slip: Slip) -> None:
    job = slip_bytes(slip)
    assert GS + b"!\x55" + BOLD[True] + b"A007\n" in job  # GS ! 0x55: 6× wide, 6× high
    assert GS + b"(k\x24\x001P0http://queue.lan:8000/t/abcDEF123" in job  # store QR data
    assert job.endswith(GS + b"V\x01")
    assert rasters(job) == []  # everything Latin went as text


def test_french_slip_uses_the_code_page_for_accents() -> None:
    job = slip_bytes(make_slip(language="fr", service_name="Accueil général", estimated_wait_range=None))
    assert "Votre numéro\n".encode("cp858") in job
    assert "Accueil général\n".encode("cp858") in job
    assert "Attente estimée : environ 9 min\n".encode("cp858") in job
    assert b"?" not in job
    assert rasters(job) == []


def test_german_slip_matches_the_german_kiosk() -> None:
    job = slip_bytes(make_slip(language="de", service_name="Zahlungen", estimated_wait_range=None))
    assert "Ihre Nummer\n".encode("cp858") in job
    assert "Geschätzte Wartezeit: etwa 9 Min.\n".encode("cp858") in job
    assert rasters(job) == []


@pytest.mark.parametrize(
    ("language", "branch", "service"),
    [
        ("ru", "Главный офис", "Общие вопросы"),
        ("ar", "الفرع الرئيسي", "الاستفسارات العامة"),
        ("en", "总行", "一般业务"),
    ],
)
def test_text_outside_the_code_page_is_printed_as_a_picture(language: str, branch: str, service: str) -> None:
    slip = make_slip(language=language, branch_name=branch, service_name=service)
    job = slip_bytes(slip)
    pictures = rasters(job)
    texts = without_rasters(job)
    # Branch, service, and for ru/ar every translated line: pictures, each the full 512-dot width, with ink.
    assert len(pictures) >= (2 if language == "en" else 7)
    for width, height, data in pictures:
        assert width == 64 and height > 10
        assert any(data)
    # Outside the pictures only ASCII is left: no code-page or GB18030 bytes (garbled on paper), no "?".
    assert all(b < 0x80 for b in texts)
    assert b"?" not in texts
    # The number, QR and cut still go as commands.
    assert b"A007\n" in texts and b"1P0http://queue.lan:8000/t/abcDEF123" in texts and texts.endswith(GS + b"V\x01")


def test_control_characters_in_names_cannot_inject_commands() -> None:
    job = slip_bytes(make_slip(service_name="Gen\x1b@eral\x1dV\x00", footer="line one\nline\x07two"))
    assert job.count(ESC + b"@") == 1
    assert job.count(GS + b"V") == 1
    assert b"Gen @eral V\n" in job and b"line one\n" in job and b"line two\n" in job


def test_people_ahead_and_wait_wording() -> None:
    assert slip_lines(make_slip(people_ahead=0))["ahead"] == "You are next"
    assert slip_lines(make_slip(estimated_wait_seconds=0, estimated_wait_range=[0, 0]))["wait"] == (
        "Estimated wait: a few moments"
    )
    assert slip_lines(make_slip(estimated_wait_seconds=61, estimated_wait_range=None))["wait"] == (
        "Estimated wait: about 2 min"
    )
    assert slip_lines(make_slip(language="fr-CA"))["your_number"] == "Votre numéro"
    assert slip_lines(make_slip(language="xx"))["your_number"] == "Your number"


def test_logo_and_qr_as_picture(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (800, 300), (0, 0, 0)).save(logo)
    job = slip_bytes(make_slip(logo_path=str(logo)), SlipOptions(native_qr=False, width_px=384))
    pictures = rasters(job)
    assert job.startswith(ESC + b"@" + ESC + b"t\x13" + ESC + b"a\x01" + GS + b"v0")  # logo first
    assert pictures[0][0] == 48 and pictures[0][1] <= 160  # scaled into 384 × 160 dots
    assert len(pictures) == 2  # logo + QR code
    assert b"(k" not in job  # no native QR command


def test_issued_at_must_be_aware() -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="aware"):
        make_slip(issued_at=datetime(2024, 1, 1, 12, 0))


def test_slip_round_trips_through_json(slip: Slip) -> None:
    assert Slip.from_dict(slip.to_dict()) == slip


def test_preview_png_shows_the_slip(slip: Slip) -> None:
    png = render_preview_png(slip)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 512 + 48 and 700 < image.height < 2000
    grey = image.convert("L")
    # The huge number: a band near the top where a lot of ink is.
    ink = grey.load()
    assert ink is not None
    rows = [len([x for x in range(grey.width) if int(ink[x, y]) < 128]) for y in range(grey.height)]  # type: ignore[arg-type]
    assert max(rows[100:300]) > 150
    assert len([r for r in rows if r > 0]) > 300


def test_preview_of_a_non_latin_slip() -> None:
    png = render_preview_png(make_slip(language="ar", branch_name="الفرع الرئيسي"))
    assert Image.open(io.BytesIO(png)).height > 700
