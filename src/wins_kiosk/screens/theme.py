"""Colours and sizes: large text and high contrast by default (WCAG AA or better on every text)."""

from __future__ import annotations

Colour = tuple[float, float, float, float]


def hex_colour(value: str, alpha: float = 1.0) -> Colour:
    value = value.lstrip("#")
    if len(value) != 6:
        return (0.12, 0.44, 0.92, alpha)
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


def luminance(colour: Colour) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = colour
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def text_on(colour: Colour) -> Colour:
    """Black or white, whichever contrasts more with `colour`."""
    lum = luminance(colour)
    return BLACK if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else WHITE


def darker(colour: Colour, factor: float = 0.75) -> Colour:
    r, g, b, a = colour
    return (r * factor, g * factor, b * factor, a)


WHITE: Colour = (1, 1, 1, 1)
BLACK: Colour = (0, 0, 0, 1)
BACKGROUND: Colour = hex_colour("#0b1626")
SURFACE: Colour = hex_colour("#16263d")
SURFACE_HIGH: Colour = hex_colour("#223a5c")
MUTED: Colour = hex_colour("#c3d0e2")
ACCENT: Colour = hex_colour("#ffd23f")
SUCCESS: Colour = hex_colour("#2fbf71")
FAULT: Colour = hex_colour("#ffb020")
DANGER: Colour = hex_colour("#e5484d")
FOCUS: Colour = hex_colour("#ffe066")
HELP: Colour = hex_colour("#0b7a75")

# Font sizes in sp before the big-font scale.
TITLE = 44
HEADING = 34
BODY = 28
SMALL = 22
SERVICE = 40
NUMBER = 170
SERVING_NUMBER = 40  # numbers and counter names alike
