"""The server-side speech: real espeak-ng audio, cached, only for ticket phrases and paired screens."""

from __future__ import annotations

import array
import io
import math
import wave

import pytest

from tests.display.conftest import Site
from wins.display import speech
from wins.errors import ValidationFailed


def _audio_stats(data: bytes) -> tuple[float, float]:
    """(duration in seconds, RMS level 0..1) of a 16-bit PCM WAV."""
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
        duration = w.getnframes() / w.getframerate()
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / max(len(samples), 1)) / 32768
    return duration, rms


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Ticket A 42, counter 3"),
        ("fr", "Ticket A 42, guichet 3"),
        ("de", "Nummer A 42, Schalter 3"),
    ],
)
def test_phrase_text_speaks_letters_and_numbers(lang: str, expected: str) -> None:
    assert speech.phrase_text(lang, "A042", "3") == expected


def test_phrase_uses_counter_words_and_escapes_ssml() -> None:
    assert speech.phrase_text("en", "B007", "Reception") == "Ticket B 7, Reception"
    ssml = speech.phrase_ssml("en", "AB12", "O'Neil desk")
    assert '<say-as interpret-as="characters">A</say-as> <say-as interpret-as="characters">B</say-as> 12' in ssml
    assert "O&apos;Neil" in ssml or "O'Neil" in ssml
    with pytest.raises(ValidationFailed):
        speech.phrase_text("en", "<speak>hello</speak>", "3")
    with pytest.raises(ValidationFailed):
        speech.phrase_text("en", "A1", "say <anything> at all please ok")
    with pytest.raises(ValidationFailed):
        speech.phrase_text("xx", "A1", "3")


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_speech_endpoint_returns_real_audio(site: Site, lang: str) -> None:
    r = site.http.get(f"/display/speech/{lang}/A042/3.wav", headers=site.auth("display"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    duration, rms = _audio_stats(r.content)
    assert 1.0 < duration < 6.0
    assert rms > 0.02, "the announcement is silence"
    cached = list((site.settings.data_dir / "speech" / lang).glob("*.wav"))
    assert len(cached) == 1
    again = site.http.get(f"/display/speech/{lang}/A042/3.wav", headers=site.auth("display"))
    assert again.content == r.content
    assert len(list((site.settings.data_dir / "speech" / lang).glob("*.wav"))) == 1


def test_languages_sound_different(site: Site) -> None:
    en = site.http.get("/display/speech/en/A042/3.wav", headers=site.auth("display")).content
    fr = site.http.get("/display/speech/fr/A042/3.wav", headers=site.auth("display")).content
    assert en != fr


def test_speech_needs_a_display_or_staff(site: Site) -> None:
    assert site.http.get("/display/speech/en/A042/3.wav").status_code == 401
    assert site.http.get("/display/speech/en/A042/3.wav", headers=site.auth("kiosk")).status_code == 403
    assert site.http.get("/display/speech/en/A042/3.wav", headers=site.auth("staff")).status_code == 200
    bad = site.http.get("/display/speech/en/hello%20world/3.wav", headers=site.auth("display"))
    assert bad.status_code == 422
    assert site.http.get("/display/speech/zz/A1/3.wav", headers=site.auth("display")).status_code == 422


def test_cache_prune_keeps_the_newest(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path)) / "speech"
    cache = speech.SpeechCache(root)
    paths = [cache.path_for("en", f"A{n}", "1") for n in range(3)]
    assert all(p.exists() for p in paths)
    assert cache.prune(keep=1) == 2
    assert len(list(root.glob("*/*.wav"))) == 1
