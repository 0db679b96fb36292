"""recipes/yesno/run.py with its default config learns YESNO (issue 11): WER <= 2% on the test
half of a YESNO-shaped corpus (60 files of 8 yes/no words, tests/yesno_corpus.py). All stages take
1-2 minutes on 2 CPU cores (printed; no timing is asserted, as machines differ). With the old defaults
(max_frames 8000: 90 updates in 30 epochs) every hypothesis was empty, WER 100%."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from yesno_corpus import write_yesno_corpus  # noqa: E402


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (Debian) reads the corpus")
def test_yesno_default_config_reaches_kaldi_like_wer(tmp_path):
    corpus = write_yesno_corpus(tmp_path / "corpus")
    spec = importlib.util.spec_from_file_location("recipe_yesno_wer", ROOT / "recipes" / "yesno" / "run.py")
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run
    spec.loader.exec_module(run)
    start = time.monotonic()
    run.main(["--corpus-dir", str(corpus), "--work-dir", str(tmp_path / "work"), "--device", "cpu"])
    seconds = time.monotonic() - start
    line = (tmp_path / "work" / "exp" / "bilstm" / "decode_test_greedy" / "wer").read_text()
    m = re.match(r"%WER (\d+\.\d\d) \[ \d+ / 240,", line)
    assert m, line  # 30 test files x 8 words
    assert float(m.group(1)) <= 2.0, line
    print(f"yesno recipe, all stages: {seconds:.0f} s")


GENUINE = ROOT.parent / "shared" / "corpora" / "yesno"


@pytest.mark.skipif(not (GENUINE / "waves_yesno").is_dir(),
                    reason=f"the 60 genuine YESNO recordings are not in {GENUINE} (this project's shared corpora)")
def test_yesno_default_config_on_the_genuine_recordings(tmp_path):
    """The real OpenSLR 1 files (one man, 8 kHz): at most 2 of the 240 test words wrong (Kaldi's recipe: 0-1).
    Measured here on 2026-12-07: 0.83% (1 insertion, 1 substitution)."""
    spec = importlib.util.spec_from_file_location("recipe_yesno_genuine", ROOT / "recipes" / "yesno" / "run.py")
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run
    spec.loader.exec_module(run)
    run.main(["--corpus-dir", str(GENUINE), "--work-dir", str(tmp_path / "work"), "--device", "cpu"])
    line = (tmp_path / "work" / "exp" / "bilstm" / "decode_test_greedy" / "wer").read_text()
    m = re.match(r"%WER (\d+\.\d\d) \[ (\d+) / 240,", line)
    assert m, line
    assert int(m.group(2)) <= 2, line
