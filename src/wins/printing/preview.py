"""A PNG picture of a slip, drawn by playing the slip's ESC/POS job back like a printer would.

Reading the very bytes that go to the printer (rather than laying the slip out a second time) keeps the
preview honest: what the admin page shows is what the printer receives. Only the commands the layout uses
are understood; anything else is skipped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import qrcode
from PIL import Image, ImageDraw, ImageFont

from wins.printing.fonts import MONO
from wins.printing.layout import Slip, SlipOptions, slip_bytes

CELL_W, CELL_H = 12, 24  # font A
LINE_GAP = 6  # default line spacing is 30 dots for a 24-dot font
MARGIN = 24

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A

# python-escpos code page numbers → Python codecs, for the pages a slip may select.
CODECS = {0: "cp437", 2: "cp850", 16: "cp1252", 17: "cp866", 19: "cp858"}


@dataclass
class _Style:
    width: int = 1
    height: int = 1
    bold: bool = False
    align: int = 0
    codec: str = "cp437"


@dataclass
class _Player:
    paper: int
    style: _Style = field(default_factory=_Style)
    blocks: list[Image.Image] = field(default_factory=list)
    line: list[tuple[str, _Style]] = field(default_factory=list)
    qr: dict[int, bytes] = field(default_factory=dict)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None

    def __post_init__(self) -> None:
        try:
            self.font = ImageFont.truetype(MONO, 20)
        except OSError:
            self.font = ImageFont.load_default(20)

    # -- text -------------------------------------------------------------------------------------

    def text(self, data: bytes) -> None:
        style = _Style(**vars(self.style))
        self.line.extend((ch, style) for ch in data.decode(style.codec, errors="replace"))

    def _glyph(self, ch: str, style: _Style) -> Image.Image:
        cell = Image.new("L", (CELL_W, CELL_H), 255)
        draw = ImageDraw.Draw(cell)
        draw.text((CELL_W // 2, CELL_H // 2), ch, font=self.font, fill=0, anchor="mm")
        if style.bold:
            draw.text((CELL_W // 2 + 1, CELL_H // 2), ch, font=self.font, fill=0, anchor="mm")
        # Thermal printers magnify by repeating dots, hence NEAREST.
        return cell.resize((CELL_W * style.width, CELL_H * style.height), Image.Resampling.NEAREST)

    def newline(self) -> None:
        if not self.line:
            self.blocks.append(Image.new("L", (self.paper, CELL_H + LINE_GAP), 255))
            return
        rows: list[list[tuple[str, _Style]]] = [[]]
        x = 0
        for ch, style in self.line:  # the printer wraps at the paper's edge
            w = CELL_W * style.width
            if x + w > self.paper and rows[-1]:
                rows.append([])
                x = 0
            rows[-1].append((ch, style))
            x += w
        for row in rows:
            height = max(CELL_H * s.height for _, s in row) + LINE_GAP
            width = sum(CELL_W * s.width for _, s in row)
            block = Image.new("L", (self.paper, height), 255)
            align = row[0][1].align
            x = {0: 0, 1: (self.paper - width) // 2, 2: self.paper - width}.get(align, 0)
            for ch, style in row:
                glyph = self._glyph(ch, style)
                block.paste(glyph, (x, height - LINE_GAP - glyph.height))
                x += glyph.width
            self.blocks.append(block)
        self.line = []

    # -- pictures ---------------------------------------------------------------------------------

    def picture(self, image: Image.Image) -> None:
        if self.line:
            self.newline()
        block = Image.new("L", (self.paper, image.height), 255)
        x = {1: (self.paper - image.width) // 2, 2: self.paper - image.width}.get(self.style.align, 0)
        block.paste(image, (max(0, x), 0))
        self.blocks.append(block)

    def raster(self, width_bytes: int, height: int, data: bytes) -> None:
        bits = Image.frombytes("1", (width_bytes * 8, height), data)
        # In ESC/POS a 1 bit is a printed (black) dot; in Pillow's mode "1" it is white.
        self.picture(bits.point(lambda v: 0 if v else 255, mode="L"))

    def print_qr(self) -> None:
        payload = self.qr.get(80, b"")[3:]  # cn fn m, then the data
        size = self.qr.get(67, b"\x31\x43\x03")[-1]
        code = qrcode.QRCode(box_size=size, border=1)
        code.add_data(payload.decode("utf-8", errors="replace"))
        code.make(fit=True)
        self.picture(code.make_image().get_image().convert("L"))

    def cut(self) -> None:
        if self.line:
            self.newline()
        block = Image.new("L", (self.paper, 12), 255)
        draw = ImageDraw.Draw(block)
        for x in range(0, self.paper, 16):
            draw.line((x, 6, x + 8, 6), fill=120, width=2)
        self.blocks.append(block)


def play(job: bytes, *, paper: int) -> list[Image.Image]:
    """Interpret an ESC/POS job into picture strips, one per printed line or image."""
    p = _Player(paper)
    i, n = 0, len(job)
    text_start: int | None = None

    def flush_text(end: int) -> None:
        nonlocal text_start
        if text_start is not None and end > text_start:
            p.text(job[text_start:end])
        text_start = None

    while i < n:
        b = job[i]
        if b >= 0x20:
            if text_start is None:
                text_start = i
            i += 1
            continue
        flush_text(i)
        if b == LF:
            p.newline()
            i += 1
        elif b == ESC and i + 1 < n:
            cmd = job[i + 1]
            if cmd == ord("@"):
                p.style = _Style()
                i += 2
            elif cmd in (ord("E"), ord("a"), ord("t"), ord("!"), ord("d"), ord("M"), ord("-"), ord("3"), ord("J")):
                arg = job[i + 2] if i + 2 < n else 0
                if cmd == ord("E"):
                    p.style.bold = bool(arg & 1)
                elif cmd == ord("a"):
                    p.style.align = arg % 48
                elif cmd == ord("t"):
                    p.style.codec = CODECS.get(arg, "cp437")
                elif cmd == ord("!"):
                    p.style.width, p.style.height = 1 + bool(arg & 0x20), 1 + bool(arg & 0x10)
                    p.style.bold = bool(arg & 0x08)
                elif cmd == ord("d"):
                    for _ in range(arg):
                        p.newline()
                i += 3
            else:
                i += 2
        elif b == GS and i + 1 < n:
            cmd = job[i + 1]
            if cmd == ord("!"):
                arg = job[i + 2]
                p.style.width, p.style.height = (arg >> 4) + 1, (arg & 0x0F) + 1
                i += 3
            elif cmd == ord("v") and job[i + 2 : i + 3] == b"0":
                xl, xh, yl, yh = job[i + 4 : i + 8]
                width_bytes, height = xl + 256 * xh, yl + 256 * yh
                start = i + 8
                p.raster(width_bytes, height, job[start : start + width_bytes * height])
                i = start + width_bytes * height
            elif cmd == ord("(") and i + 4 < n:
                length = job[i + 3] + 256 * job[i + 4]
                body = job[i + 5 : i + 5 + length]
                if job[i + 2] == ord("k") and len(body) >= 2:
                    p.qr[body[1]] = body
                    if body[1] == 81:
                        p.print_qr()
                i += 5 + length
            elif cmd == ord("V"):
                p.cut()
                i += 4 if i + 2 < n and job[i + 2] in (65, 66) else 3
            else:
                i += 3
        elif b == DLE and i + 2 < n:
            i += 3  # real-time requests print nothing
        else:
            i += 1
    flush_text(n)
    if p.line:
        p.newline()
    return p.blocks


def render_job_png(job: bytes, *, paper: int = 512) -> bytes:
    """A PNG of any ESC/POS job (as far as the commands used by slips go)."""
    blocks = play(job, paper=paper)
    height = sum(b.height for b in blocks) + 2 * MARGIN
    sheet = Image.new("RGB", (paper + 2 * MARGIN, height), (255, 255, 255))
    y = MARGIN
    for block in blocks:
        sheet.paste(block.convert("RGB"), (MARGIN, y))
        y += block.height
    ImageDraw.Draw(sheet).rectangle((0, 0, sheet.width - 1, sheet.height - 1), outline=(200, 200, 200))
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_preview_png(slip: Slip, options: SlipOptions | None = None) -> bytes:
    """A PNG picture of `slip` as the printer would print it (for admin pages and docs)."""
    options = options or SlipOptions()
    return render_job_png(slip_bytes(slip, options), paper=options.width_px)
