"""QR codes as SVG for pages (the display board's join link, the web kiosk's tracking link): one way to draw them."""

from __future__ import annotations


def qr_svg(data: str) -> str:
    """`data` as a QR code (error correction M, a 2-module border) in SVG."""
    # Imported on first use: qrcode's SVG factory pulls in xml.etree, ~0.2 s of CPU at every process start.
    import qrcode.image.svg

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    svg: bytes = code.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).to_string()
    return svg.decode()
