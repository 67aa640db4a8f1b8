"""WINS customer kiosk: a Kivy touch app over a plain-Python core (state.py, client.py).

Run it with `wins-kiosk --config kiosk.toml`; see docs/kiosk.md.
"""
