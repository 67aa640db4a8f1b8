"""Spoken announcements ("Ticket A 42, counter 3") rendered offline by espeak-ng, cached per phrase and language.

Only ticket-number phrases can be synthesized: the number and counter name are validated against tight
patterns and the phrase is built here from a per-language template, so nobody can make the server say (or
spend CPU on) arbitrary text. The letters of a number are spoken as letters and the digits as a number the
way that language says it (A042 → "A forty-two" / "A quarante-deux"): espeak-ng's SSML `say-as characters`
does the letter, its own number rules do the rest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from wins.errors import ValidationFailed, WinsError

logger = logging.getLogger(__name__)

ESPEAK = os.environ.get("WINS_ESPEAK", "espeak-ng")
NUMBER_RE = re.compile(r"^([A-Za-z]{0,4})0*([0-9]{1,5})$")
COUNTER_RE = re.compile(r"^[\w .'#-]{1,24}$")
MAX_CACHED_FILES = 2000  # ~3 s of 22 kHz mono each: about 250 MB at most


@dataclass(frozen=True)
class Language:
    voice: str
    # `{number}` and `{counter}`; the second form is used when the counter's name is a word ("Reception").
    template: str
    template_named: str
    rate: int = 150


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "Ticket {number}, counter {counter}", "Ticket {number}, {counter}"),
    "fr": Language("fr", "Ticket {number}, guichet {counter}", "Ticket {number}, {counter}"),
    "de": Language("de", "Nummer {number}, Schalter {counter}", "Nummer {number}, {counter}"),
    "es": Language("es", "Turno {number}, ventanilla {counter}", "Turno {number}, {counter}"),
    "it": Language("it", "Numero {number}, sportello {counter}", "Numero {number}, {counter}"),
    "nl": Language("nl", "Nummer {number}, balie {counter}", "Nummer {number}, {counter}"),
    "pt": Language("pt", "Senha {number}, balcão {counter}", "Senha {number}, {counter}"),
}


class SpeechUnavailable(WinsError):
    status_code = 503
    code = "speech_unavailable"


def _split_number(number: str) -> tuple[str, int]:
    match = NUMBER_RE.match(number.strip())
    if match is None:
        raise ValidationFailed("A ticket number is up to 4 letters then up to 5 digits, like A042.")
    return match.group(1).upper(), int(match.group(2))


def _check(lang: str, counter: str) -> Language:
    language = LANGUAGES.get(lang)
    if language is None:
        raise ValidationFailed(f"No announcements in {lang!r}; available: {', '.join(sorted(LANGUAGES))}.")
    if COUNTER_RE.match(counter) is None:
        raise ValidationFailed("A counter name is 1 to 24 letters, digits, spaces or . ' # -")
    return language


# "counter 3", "counter 3B" — but "Reception", not "counter Reception". The board's script uses the same pattern.
NUMBERED_COUNTER = r"^\d+[A-Za-z]?$"


def _template(language: Language, counter: str) -> str:
    return language.template if re.match(NUMBERED_COUNTER, counter) else language.template_named


def phrase_table(languages: list[str]) -> dict[str, Any]:
    """The announcement sentences the display's browser speaks when the server's WAV cannot be had: the same
    templates espeak-ng says here, so the words are written once (the page gets them in its config)."""
    return {
        "numbered_counter": NUMBERED_COUNTER,
        "languages": {
            lang: {"numbered": LANGUAGES[lang].template, "named": LANGUAGES[lang].template_named}
            for lang in languages
            if lang in LANGUAGES
        },
    }


def phrase_text(lang: str, number: str, counter: str) -> str:
    """The sentence as plain text (what the browser's speech synthesis gets as a fallback)."""
    language = _check(lang, counter)
    letters, digits = _split_number(number)
    spoken = f"{' '.join(letters)} {digits}".strip()
    return _template(language, counter).format(number=spoken, counter=counter)


def phrase_ssml(lang: str, number: str, counter: str) -> str:
    language = _check(lang, counter)
    letters, digits = _split_number(number)
    spoken = "".join(f'<say-as interpret-as="characters">{c}</say-as> ' for c in letters) + str(digits)
    body = escape(_template(language, counter)).format(number=spoken, counter=escape(counter))
    return f"<speak>{body}</speak>"


class SpeechCache:
    """WAV files under `<data_dir>/speech/<lang>/`, named by a hash of the phrase."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._writes = 0

    def available(self) -> bool:
        return shutil.which(ESPEAK) is not None

    def path_for(self, lang: str, number: str, counter: str) -> Path:
        """The cached WAV for this phrase, synthesized on first use."""
        ssml = phrase_ssml(lang, number, counter)
        digest = hashlib.sha256(f"{LANGUAGES[lang]}|{ssml}".encode()).hexdigest()[:32]
        path = self.root / lang / f"{digest}.wav"
        if path.exists():
            return path
        self._synthesize(LANGUAGES[lang], ssml, path)
        return path

    def _synthesize(self, language: Language, ssml: str, path: Path) -> None:
        exe = shutil.which(ESPEAK)
        if exe is None:
            raise SpeechUnavailable("espeak-ng is not installed on the server; the display falls back to the browser.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        try:
            subprocess.run(
                [exe, "-v", language.voice, "-s", str(language.rate), "-m", "-w", str(tmp), ssml],
                check=True,
                capture_output=True,
                timeout=20,
            )
            os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
        except (subprocess.SubprocessError, OSError) as exc:
            tmp.unlink(missing_ok=True)
            logger.error("espeak-ng failed for %s: %s", path.name, exc)
            raise SpeechUnavailable("The server could not synthesize this announcement.") from exc
        with self._lock:
            self._writes += 1
            due = self._writes % 100 == 0
        if due:
            self.prune()

    def prune(self, keep: int = MAX_CACHED_FILES) -> int:
        """Delete the least recently written files beyond `keep` (a display runs for weeks)."""
        files = sorted(self.root.glob("*/*.wav"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)
        return max(len(files) - keep, 0)
