"""Pure WAV handling: any PCM WAV to the 16 kHz mono samples speech engines expect."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt

SPEECH_RATE = 16_000
_DTYPES: dict[int, str] = {1: "u1", 2: "<i2", 4: "<i4"}


class AudioFormatError(ValueError):
    """The bytes are not a PCM WAV file this app can read."""


def read_wav_mono(data: bytes) -> tuple[npt.NDArray[np.float64], int]:
    """The samples of a PCM WAV as floats in [-1, 1], channels averaged, and the rate.

    Raises AudioFormatError.
    """
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"not a PCM WAV file: {exc}") from exc
    if width not in _DTYPES:
        raise AudioFormatError(f"unsupported sample width: {width * 8} bits")
    samples = np.frombuffer(frames, dtype=_DTYPES[width]).astype(np.float64)
    if width == 1:  # 8-bit WAV is unsigned
        samples -= 128.0
    samples /= float(2 ** (8 * width - 1))
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels]
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def resample(samples: npt.NDArray[np.float64], rate: int, target: int) -> npt.NDArray[np.float64]:
    """Linear-interpolation resampling: enough for speech recognition, no extra dependency."""
    if rate == target or len(samples) == 0:
        return samples
    count = int(len(samples) * target / rate)
    positions = np.arange(count) * (rate / target)
    resampled: npt.NDArray[np.float64] = np.interp(positions, np.arange(len(samples)), samples)
    return resampled


def to_speech_pcm(data: bytes, *, rate: int = SPEECH_RATE) -> bytes:
    """Raw little-endian 16-bit mono PCM at `rate` from a WAV file. Raises AudioFormatError."""
    samples, source_rate = read_wav_mono(data)
    resampled = resample(samples, source_rate, rate)
    return (np.clip(resampled, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def to_speech_wav(data: bytes, *, rate: int = SPEECH_RATE) -> bytes:
    """The same audio as a 16 kHz mono 16-bit WAV file. Raises AudioFormatError."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(to_speech_pcm(data, rate=rate))
    return buffer.getvalue()


def to_speech_samples(data: bytes, *, rate: int = SPEECH_RATE) -> npt.NDArray[np.float32]:
    """The audio as float32 mono samples in [-1, 1] at `rate`. Raises AudioFormatError."""
    samples, source_rate = read_wav_mono(data)
    return np.clip(resample(samples, source_rate, rate), -1.0, 1.0).astype(np.float32)
