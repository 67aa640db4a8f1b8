"""Spoken guidance on the kiosk itself: espeak-ng (the offline synthesiser the server also uses) writes a WAV,
a player plays it. A new utterance stops the old one: the customer who presses the next key hears the next
button at once, not the end of the previous sentence.

Synthesis runs on a worker thread (espeak-ng takes ~50 ms); the player is Kivy's SoundLoader in the app (SDL2
audio, so a headset on the jack or USB gets it: private listening), anything with `play(path, volume)` and
`stop()` in tests.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

ESPEAK = os.environ.get("WINS_ESPEAK", "espeak-ng")
VOICES = {"en": "en", "fr": "fr", "de": "de"}
RATE = 150  # words per minute: a little slower than espeak-ng's 175, for a public place
MAX_CHARS = 1200


class Player(Protocol):
    def play(self, path: Path, volume: int) -> None: ...

    def stop(self) -> None: ...


def synthesize(text: str, language: str, path: Path, *, rate: int = RATE) -> Path:
    """`text` spoken in `language` as a WAV file at `path` (raises OSError / CalledProcessError)."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt install espeak-ng)")
    voice = VOICES.get(language, "en")
    # "--" ends the options: a text starting with "-" is still text.
    subprocess.run(
        [exe, "-v", voice, "-s", str(rate), "-w", str(path), "--", text[:MAX_CHARS]],
        check=True,
        capture_output=True,
        timeout=20,
    )
    return path


class EspeakSpeaker:
    """Speaks with espeak-ng through `player`; interrupt-safe (only the newest utterance is played)."""

    def __init__(self, player: Player, *, folder: Path | None = None) -> None:
        self.player = player
        self.folder = folder or Path(tempfile.mkdtemp(prefix="wins-kiosk-speech-"))
        self._lock = threading.Lock()
        self._generation = 0

    @staticmethod
    def available() -> bool:
        return shutil.which(ESPEAK) is not None

    def say(self, text: str, *, language: str, volume: int) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.player.stop()
        threading.Thread(
            target=self._speak, args=(generation, text, language, volume), name="wins-kiosk-speech", daemon=True
        ).start()

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
        self.player.stop()

    def _speak(self, generation: int, text: str, language: str, volume: int) -> None:
        path = self.folder / f"utterance-{generation % 4}.wav"
        try:
            synthesize(text, language, path)
        except (OSError, subprocess.SubprocessError) as exc:
            logger.error("speech failed: %s", exc)
            return
        with self._lock:
            current = generation == self._generation
        if current:  # a newer utterance started meanwhile: this one is stale
            self.player.play(path, volume)


class KivyPlayer:
    """Plays WAVs with Kivy's audio (SDL2); call from any thread (hops to the UI thread)."""

    def __init__(self) -> None:
        self._sound: object | None = None

    def play(self, path: Path, volume: int) -> None:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: self._play(path, volume), 0)

    def _play(self, path: Path, volume: int) -> None:
        from kivy.core.audio import SoundLoader

        self._stop_now()
        sound = SoundLoader.load(str(path))
        if sound is None:
            logger.error("cannot play %s (no audio output?)", path)
            return
        sound.volume = max(0.0, min(volume / 100, 1.0))
        sound.play()
        self._sound = sound

    def stop(self) -> None:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: self._stop_now(), 0)

    def _stop_now(self) -> None:
        sound, self._sound = self._sound, None
        if sound is not None:
            sound.stop()  # type: ignore[attr-defined]
            sound.unload()  # type: ignore[attr-defined]
