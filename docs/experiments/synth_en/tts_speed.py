"""Synthesis speed of each TTS voice, in x real time on one core (the numbers in README.md).

    .venv/bin/python docs/experiments/synth_en/tts_speed.py [--num 40] [voice ...]

Reads the first --num training sentences of the corpus (WordNet) with each voice through
data_prep.synth.corpus.synthesize (engine + resampling to 16 kHz, no augmentation or FLAC writing),
one utterance after another in this one process, at random rate and pitch like the corpus.
Prints one line per voice: seconds of audio / seconds of wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from data_prep.synth.corpus import SynthConfig, synthesize  # noqa: E402
from data_prep.synth.engines import Voice  # noqa: E402
from data_prep.synth.install import check_voice_installed  # noqa: E402
from data_prep.synth.wordnet_text import load_wordnet_sentences, split_of  # noqa: E402

ALL_VOICES = [
    "espeak:en-us+f3", "espeak:mb-us1", "espeak:mb-us2", "espeak:mb-us3", "espeak:mb-en1",
    "flite:kal", "flite:awb", "flite:rms", "festival:kal_diphone", "festival:rab_diphone", "festival:don_diphone",
    "festival:us1_mbrola", "festival:us2_mbrola", "festival:us3_mbrola", "festival:en1_mbrola",
    "pico:en-US", "pico:en-GB", "rhvoice:alan", "rhvoice:bdl", "rhvoice:clb", "rhvoice:evgeniy-eng", "rhvoice:lyubov",
    "hibari:heart",
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("voices", nargs="*", default=ALL_VOICES, help="voices as <engine>:<name>")
    p.add_argument("--num", type=int, default=40, help="sentences per voice")
    args = p.parse_args()
    cfg = SynthConfig()
    sentences = [s for s in load_wordnet_sentences(Path(cfg.wordnet_dir)) if split_of(s) == "train"][: args.num]
    rng = np.random.default_rng(0)
    for spec in args.voices:
        voice = Voice.parse(spec)
        check_voice_installed(voice)
        synthesize("warm up", voice)  # festival's session start is paid once per worker, not per utterance
        audio_s, start = 0.0, time.perf_counter()
        for text in sentences:
            audio_s += len(synthesize(text, voice, rng.uniform(*cfg.rate_range), rng.uniform(*cfg.pitch_range))) / 16000
        wall = time.perf_counter() - start
        print(f"{spec:24s} {audio_s / wall:6.1f}x real time ({audio_s:.0f} s of audio in {wall:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
