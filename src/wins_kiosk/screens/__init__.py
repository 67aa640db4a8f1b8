"""Kivy widgets of the kiosk: one class per screen, drawn from `wins_kiosk.state.Kiosk`, forwarding touches."""
