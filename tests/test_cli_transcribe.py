"""`asr transcribe` end to end with a model that recognises: bad inputs, inputs of every kind, formats, sclite."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.data.resample import resample
from asr.transcribe.formats import stm_lines

SCLITE = "/usr/lib/sctk/bin/sclite"


@pytest.fixture(scope="module")
def spoken(digit_speaker):
    rng = np.random.default_rng(77)
    return [digit_speaker.say(words, rng, voice="en-us") for words in
            (["three", "one", "four"], ["one", "five", "nine"], ["two", "six", "five"])]


def test_bad_inputs_are_reported_and_the_good_files_still_transcribed(digit_model_dir, spoken, tmp_path, capsys):
    good1 = tmp_path / "good one.wav"  # a space in the name
    sf.write(str(good1), spoken[0].wave, 16000)
    good2 = tmp_path / "gööd 2.flac"  # non-ASCII, stereo, 44.1 kHz
    sf.write(str(good2), np.stack([resample(spoken[1].wave, 16000, 44100)] * 2, axis=1), 44100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    full = tmp_path / "full.wav"
    sf.write(str(full), spoken[2].wave, 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    not_audio = tmp_path / "notes.mp3"
    not_audio.write_text("this is not audio\n")
    nan = tmp_path / "nan.wav"
    bad = np.zeros(16000, np.float32)
    bad[500] = np.nan
    sf.write(str(nan), bad, 16000, subtype="FLOAT")
    folder = tmp_path / "no audio here"
    folder.mkdir()
    dangling = tmp_path / "dangling.wav"
    os.symlink(tmp_path / "gone.wav", dangling)
    silence = tmp_path / "silence.wav"
    sf.write(str(silence), np.zeros(24000, np.float32), 16000)
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(100, np.float32), 16000)

    inputs = [good1, empty, truncated, not_audio, nan, folder, dangling, good2, silence, short]
    code = main(["transcribe", "--model", str(digit_model_dir), "--device", "cpu", *map(str, inputs)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = dict(line.split("\t") for line in out.splitlines())
    assert lines.pop(str(truncated)) is not None  # a truncated file: what it holds (see the next test)
    assert lines == {str(good1): "three one four", str(good2): "one five nine", str(silence): "", str(short): ""}
    errors = [line for line in err.splitlines() if line.startswith("asr transcribe: error:")]
    expect = {folder: "no audio files", empty: "empty", not_audio: "decode", nan: "NaN", dangling: "dangling"}
    assert len(errors) == len(expect), err
    for path, reason in expect.items():
        assert any(str(path) in e and reason in e for e in errors), (path, reason, err)
    summary = err.strip().splitlines()[-1]
    assert "10 input(s), 5 transcribed, 5 failed" in summary and "real-time factor" in summary


def test_truncated_wav_is_transcribed_with_one_warning(digit_model_dir, spoken, tmp_path, capsys, caplog):
    # A recorder that crashed mid-file: the WAV header declares twice the samples present.
    # `asr transcribe` transcribes what is there and says, in one line, which file lost how
    # much; sox and ffmpeg read such a file the same way. Corpus preparation and feature
    # extraction still refuse it (tests/test_audio.py).
    both = np.concatenate([spoken[0].wave, spoken[1].wave])
    full = tmp_path / "full.wav"
    sf.write(str(full), both, 16000, subtype="PCM_16")
    data = full.read_bytes()
    header = len(data) - 2 * len(both)
    crashed = tmp_path / "crashed recorder.wav"
    crashed.write_bytes(data[: header + 2 * len(spoken[0].wave)])
    code = main(["transcribe", "--model", str(digit_model_dir), "--device", "cpu", str(crashed)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [f"{crashed}\t{spoken[0].text}"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]  # stderr, outside pytest
    assert len(warnings) == 1 and "truncated" in warnings[0], warnings
    assert "\n" not in warnings[0]
    missing = f"{len(spoken[1].wave) / 16000:.2f} s of {len(both) / 16000:.2f} s missing"
    assert str(crashed) in warnings[0] and missing in warnings[0], warnings[0]


def test_folders_and_wav_scp_with_pipes(digit_model_dir, spoken, tmp_path, capsys):
    d = tmp_path / "audio" / "deeper"
    d.mkdir(parents=True)
    for i, s in enumerate(spoken):
        sf.write(str(d / f"utt{i}.{'flac' if i % 2 else 'WAV'}"), s.wave, 16000)
    (d / "readme.txt").write_text("not audio, skipped by extension")
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "kaldi", str(tmp_path / "audio")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"utt{i} {s.text}" for i, s in enumerate(spoken)]

    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {d / 'utt0.WAV'}\nb cat '{d / 'utt1.flac'}' |\nc false |\n")
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "kaldi", str(scp)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"a {spoken[0].text}", f"b {spoken[1].text}"]
    assert "utt 'c'" in err and "command failed" in err


def test_jsonl_and_output_dir(digit_model_dir, spoken, tmp_path, capsys):
    wavs = []
    for i, s in enumerate(spoken):
        wavs.append(tmp_path / f"u{i}.wav")
        sf.write(str(wavs[-1]), s.wave, 16000)
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "jsonl", *map(str, wavs)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == [s.text for s in spoken]
    for r, s in zip(rows, spoken):
        assert [w["word"] for w in r["words"]] == s.text.split()
        for w, (_, start, end) in zip(r["words"], s.words):
            assert abs(w["start"] - start) <= 0.1 and abs(w["end"] - end) <= 0.1 and 0 < w["confidence"] <= 1
    out_dir = tmp_path / "subs"
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "srt", "--output-dir", str(out_dir),
                 *map(str, wavs)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["u0.srt", "u1.srt", "u2.srt"]
    assert "-->" in (out_dir / "u0.srt").read_text()
    # an interrupted run picks up where it stopped
    (out_dir / "u1.srt").unlink()
    (out_dir / "u0.srt").write_text("kept\n")
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "srt", "--output-dir", str(out_dir),
                 "--skip-existing", *map(str, wavs)]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 input(s)" in err and "1 input(s), 1 transcribed" in err
    assert (out_dir / "u0.srt").read_text() == "kept\n" and "-->" in (out_dir / "u1.srt").read_text()


@pytest.mark.skipif(not Path(SCLITE).exists(), reason="sclite (Debian sctk) is not installed")
def test_ctm_scores_with_sclite(digit_model_dir, spoken, tmp_path, capsys):
    wavs, refs = [], {}
    for i, s in enumerate(spoken):
        wavs.append(tmp_path / f"rec{i}.wav")
        sf.write(str(wavs[-1]), s.wave, 16000)
        refs[f"rec{i}"] = (s.text if i else "three one one four", len(s.wave) / 16000)  # one known insertion
    assert main(["transcribe", "--model", str(digit_model_dir), "--format", "ctm", *map(str, wavs)]) == 0
    ctm = tmp_path / "hyp.ctm"
    ctm.write_text(capsys.readouterr().out)
    stm = tmp_path / "ref.stm"
    stm.write_text("".join(line + "\n" for line in stm_lines(refs)))
    res = subprocess.run([SCLITE, "-r", str(stm), "stm", "-h", str(ctm), "ctm", "-o", "rsum", "stdout"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    total = next(line for line in res.stdout.splitlines() if "Sum" in line and "|" in line)
    counts = [int(x) for x in total.replace("|", " ").split()[1:8] if x.lstrip("-").isdigit()]
    # | Sum | #Snt #Wrd | Corr Sub Del Ins Err S.Err |
    assert counts[:2] == [3, 10] and counts[2:6] == [9, 0, 1, 0], res.stdout
    assert main(["score", str(stm), str(ctm), "--bootstrap", "0"]) == 0
    assert "%WER 10.00 [ 1 / 10, 0 ins, 1 del, 0 sub ]" in capsys.readouterr().out


def test_ctrl_c_keeps_what_was_written_and_exits_130(digit_model_dir, spoken, tmp_path, capsys, monkeypatch):
    from asr.transcribe import pipeline

    wavs = []
    for i, s in enumerate(spoken):
        wavs.append(tmp_path / f"u{i}.wav")
        sf.write(str(wavs[-1]), s.wave, 16000)
    real_run = pipeline.Pipeline.run

    def run_then_interrupt(self, sources):
        for k, result in enumerate(real_run(self, sources)):
            if k == 2:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(pipeline.Pipeline, "run", run_then_interrupt)
    out_dir = tmp_path / "out"
    code = main(["transcribe", "--model", str(digit_model_dir), "--format", "kaldi", "--output-dir", str(out_dir),
                 *map(str, wavs)])
    assert code == 130
    assert "interrupted after 2 of 3" in capsys.readouterr().err
    assert sorted(p.name for p in out_dir.iterdir()) == ["u0.kaldi.txt", "u1.kaldi.txt"]


def test_without_model_the_bundled_model_is_used_or_named(digit_model_dir, spoken, tmp_path, capsys, monkeypatch):
    from asr.transcribe import bundled

    wav = tmp_path / "a.wav"
    sf.write(str(wav), spoken[0].wave, 16000)
    monkeypatch.setattr(bundled, "BUNDLED_MODEL", tmp_path / "models" / "en_synth")
    assert main(["transcribe", "--device", "cpu", str(wav)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "models" / "en_synth") in err and "--model" in err
    monkeypatch.setattr(bundled, "BUNDLED_MODEL", digit_model_dir)
    assert main(["transcribe", "--device", "cpu", "--decoder", "greedy", str(wav)]) == 0
    assert capsys.readouterr().out.strip().endswith("three one four")
