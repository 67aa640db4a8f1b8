"""Building blocks: flat rounded tiles that are easy to hit, panels, a QR code image, a hold-to-open area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import qrcode
from kivy.clock import Clock
from kivy.graphics import Color, InstructionGroup, Line, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp, sp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.label import Label

from wins_kiosk.screens import theme
from wins_kiosk.screens.theme import Colour


def show_focus(widget: Any, on: bool) -> None:
    """Draw (or hide) the keyboard focus ring: a thick yellow outline with a dark inner edge, visible on any
    background (WCAG 2.4.7 / 2.4.11)."""
    group: InstructionGroup | None = getattr(widget, "_focus_group", None)
    if on and group is None:
        group = InstructionGroup()
        widget._focus_group = group
        widget.canvas.after.add(group)

        def redraw(*_: Any) -> None:
            group.clear()
            x, y, w, h = widget.x, widget.y, widget.width, widget.height
            group.add(Color(*theme.BLACK))
            group.add(Line(rounded_rectangle=(x + dp(2), y + dp(2), w - dp(4), h - dp(4), dp(20)), width=dp(2)))
            group.add(Color(*theme.FOCUS))
            group.add(Line(rounded_rectangle=(x - dp(4), y - dp(4), w + dp(8), h + dp(8), dp(26)), width=dp(4)))

        widget._focus_redraw = redraw
        widget.bind(pos=redraw, size=redraw)
        redraw()
    elif not on and group is not None:
        widget.unbind(pos=widget._focus_redraw, size=widget._focus_redraw)
        widget.canvas.after.remove(group)
        widget._focus_group = None


class Text(Label):  # type: ignore[misc]
    """A label that wraps inside its box."""

    def __init__(
        self,
        text: str = "",
        *,
        size: float = theme.BODY,
        scale: float = 1.0,
        bold: bool = False,
        colour: Colour = theme.WHITE,
        halign: str = "center",
        valign: str = "middle",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            text=text, font_size=sp(size * scale), bold=bold, color=colour, halign=halign, valign=valign, **kwargs
        )
        self.bind(size=self._wrap)

    def _wrap(self, *_: Any) -> None:
        self.text_size = (self.width, self.height)


class Panel(BoxLayout):  # type: ignore[misc]
    """A box with a rounded, filled background."""

    def __init__(self, *, background: Colour = theme.SURFACE, radius: float = 24, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            self._colour = Color(*background)
            self._rect = RoundedRectangle(radius=[dp(radius)])
        self.bind(pos=self._redraw, size=self._redraw)

    def set_background(self, colour: Colour) -> None:
        self._colour.rgba = colour

    def _redraw(self, *_: Any) -> None:
        self._rect.pos = self.pos
        self._rect.size = self.size


class Tile(ButtonBehavior, Text):  # type: ignore[misc]
    """A big flat button: the whole tile reacts, it darkens while pressed."""

    def __init__(
        self,
        text: str,
        *,
        on_tap: Callable[[], None],
        background: Colour = theme.SURFACE_HIGH,
        radius: float = 22,
        focus_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("colour", theme.text_on(background))
        super().__init__(text=text, **kwargs)  # keywords only: ButtonBehavior.__init__ takes no positionals
        self.focus_key = focus_key  # the state's FocusItem key: the keys reach this tile
        self._background = background
        self._on_tap = on_tap
        with self.canvas.before:
            self._fill = Color(*background)
            self._rect = RoundedRectangle(radius=[dp(radius)])
        self.bind(pos=self._redraw, size=self._redraw, state=self._pressed)

    def _redraw(self, *_: Any) -> None:
        self._rect.pos = self.pos
        self._rect.size = self.size

    def _pressed(self, *_: Any) -> None:
        self._fill.rgba = theme.darker(self._background) if self.state == "down" else self._background

    def on_release(self) -> None:
        self._on_tap()


class HoldArea(Text):
    """Text that calls `on_hold` when held for `seconds` (the operator's hidden gesture)."""

    def __init__(self, text: str, *, on_hold: Callable[[], None], seconds: float = 2.0, **kwargs: Any) -> None:
        super().__init__(text, **kwargs)
        self._on_hold = on_hold
        self._seconds = seconds
        self._event: Any = None

    def on_touch_down(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            self._event = Clock.schedule_once(lambda _dt: self._on_hold(), self._seconds)
            touch.grab(self)
            return True
        return bool(super().on_touch_down(touch))

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            if self._event is not None:
                self._event.cancel()
                self._event = None
            return True
        return bool(super().on_touch_up(touch))


def qr_texture(data: str, *, module_px: int = 8) -> Texture:
    """The QR code of `data` as a crisp texture (black on white, with its quiet zone)."""
    code = qrcode.QRCode(border=2, box_size=module_px, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    picture = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    texture = Texture.create(size=picture.size, colorfmt="rgb")
    texture.blit_buffer(picture.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture


class QrImage(Image):  # type: ignore[misc]
    def __init__(self, data: str, **kwargs: Any) -> None:
        super().__init__(fit_mode="contain", **kwargs)
        self.data = data
        self.texture = qr_texture(data)
