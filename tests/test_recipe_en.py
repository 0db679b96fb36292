"""recipes/en/run.py stage 0 (prepare) on a corpora root written by the test: a tiny LibriSpeech
tree (two speakers, one of them a dev speaker), a tiny AN4 tree and a tiny VCTK tree. Also the
errors for a bad corpus list, and that conf/default.yaml loads."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.config import load_yaml
from asr.data.datadir import read_datadir, read_table
from asr.data.perturb import PERTURB_FILE, PerturbConfig
from data_prep.common import PrepError

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SR = 16000


def load_recipe():
    spec = importlib.util.spec_from_file_location("recipe_en", ROOT / "recipes" / "en" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _audio(path: Path, seed: int, fmt: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.4 * SR)) / SR
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * (150 + 30 * seed) * t)).astype(np.float32), SR, **(fmt or {}))


def write_corpora(root: Path) -> Path:
    """root/{LibriSpeech/train-clean-5, an4, VCTK-Corpus, splits/dev_speakers.txt}."""
    ls = root / "LibriSpeech" / "train-clean-5"
    for spk, chapter, words in (("1867", "154075", ["THE DEV SPEAKER READS", "AND READS AGAIN"]),
                                ("19", "198", ["THE TRAIN SPEAKER READS", "HE READS TOO"])):
        chap = ls / spk / chapter
        for i, w in enumerate(words):
            _audio(chap / f"{spk}-{chapter}-{i:04d}.flac", i)
        (chap / f"{spk}-{chapter}.trans.txt").write_text(
            "".join(f"{spk}-{chapter}-{i:04d} {w}\n" for i, w in enumerate(words)))
    an4 = root / "an4"
    (an4 / "etc").mkdir(parents=True)
    (an4 / "etc" / "an4_train.fileids").write_text("an4_clstk/fash/an251-fash-b\nan4_clstk/fash/an253-fash-b\n")
    (an4 / "etc" / "an4_train.transcription").write_text("<s> YES </s> (an251-fash-b)\n<s> G O </s> (an253-fash-b)\n")
    (an4 / "etc" / "an4_test.fileids").write_text("an4test_clstk/fcaw/an406-fcaw-b\n")
    (an4 / "etc" / "an4_test.transcription").write_text("RUBOUT G M (an406-fcaw-b)\n")
    _audio(an4 / "wav/an4_clstk/fash/an251-fash-b.wav", 1)
    _audio(an4 / "wav/an4_clstk/fash/an253-fash-b.flac", 2)
    _audio(an4 / "wav/an4test_clstk/fcaw/an406-fcaw-b.wav", 3)
    vctk = root / "VCTK-Corpus"
    for i, sentence in enumerate(["Please call Stella.", "Ask her to bring these things."], 1):
        _audio(vctk / "wav48" / "p239" / f"p239_{i:03d}.wav", i)
        (vctk / "txt" / "p239").mkdir(parents=True, exist_ok=True)
        (vctk / "txt" / "p239" / f"p239_{i:03d}.txt").write_text(sentence + "\n")
    (root / "splits").mkdir()
    (root / "splits" / "dev_speakers.txt").write_text("1867\n")
    return root


CORPORA = """\
    - {name: librispeech, kind: librispeech, path: LibriSpeech, subsets: [train-clean-5]}
    - {name: an4, kind: an4, path: an4, subsets: [train, test]}
    - {name: vctk, kind: vctk, path: VCTK-Corpus}
"""


def write_config(path: Path, corpora: str = CORPORA, speeds: str = "[0.9, 1.0, 1.1]", copies: int = 1) -> Path:
    path.write_text(f"""\
tag: t
nj: 1
corpus:
  corpora_root: /nonexistent/corpora
  corpora:
{corpora}
  dev_speakers: splits/dev_speakers.txt
  perturb:
    speeds: {speeds}
    channel_copies: {copies}
    conditions: [noise]
""")
    return path


def run_stage0(tmp_path, config: Path, *extra: str) -> None:
    load_recipe().main(["--config", str(config), "--work-dir", str(tmp_path / "work"), "--corpora-root",
                        str(tmp_path / "corpora"), "--device", "cpu", "--stop-stage", "0", *extra])


DEV = ["1867-154075-0000", "1867-154075-0001"]
TRAIN = ["19-198-0000", "19-198-0001", "fash-an251-fash-b", "fash-an253-fash-b", "fcaw-an406-fcaw-b",
         "p239_001", "p239_002"]


def test_stage0_prepares_splits_and_perturbs(tmp_path):
    write_corpora(tmp_path / "corpora")
    run_stage0(tmp_path, write_config(tmp_path / "conf.yaml"))
    data = tmp_path / "work" / "data"
    for part in ("librispeech/train_clean_5", "an4/an4_train", "an4/an4_test", "vctk/all"):
        assert (data / "local" / part / "prepare.log").is_file(), part
    dev, local = read_datadir(data / "dev"), read_datadir(data / "local" / "train")
    assert dev.utts == DEV and list(dev.spk2utt) == ["1867"]
    assert dev.text["1867-154075-0000"] == "the dev speaker reads"
    assert sorted(local.utts) == sorted(TRAIN)
    assert "1867" not in local.spk2utt and sorted(local.spk2utt) == ["19", "fash", "fcaw", "p239"]
    assert local.text["fash-an253-fash-b"] == "g o" and local.text["p239_001"] == "please call stella"
    assert local.wav_scp["p239_001"] == str((tmp_path / "corpora/VCTK-Corpus/wav48/p239/p239_001.wav").resolve())

    train = read_datadir(data / "train")
    prefixes = ("", "sp0.9-", "sp1.1-", "aug1-")
    assert sorted(train.utts) == sorted(p + u for p in prefixes for u in TRAIN)
    assert not any(u.endswith(d) for u in train.utts for d in DEV)  # no dev speaker in any copy
    assert all(train.text[p + u] == local.text[u] for p in prefixes for u in TRAIN)
    assert train.utt2spk["sp0.9-p239_001"] == "sp0.9-p239" and train.utt2spk["aug1-19-198-0000"] == "aug1-19"
    specs = read_table(data / "train" / PERTURB_FILE)
    assert sorted(specs) == sorted(p + u for p in prefixes[1:] for u in TRAIN)
    assert {specs[f"sp0.9-{u}"] for u in TRAIN} == {"speed=0.9"}
    assert all(specs[f"aug1-{u}"].startswith("noise=") for u in TRAIN)  # conditions: [noise] only
    assert not (data / "dev" / PERTURB_FILE).exists() and not (data / "local" / "train" / PERTURB_FILE).exists()
    assert (tmp_path / "work" / "exp" / "t" / ".stages" / "stage0.prepare.done").is_file()
    assert not (tmp_path / "work" / "exp" / "t" / ".stages" / "stage1.features.done").exists()


def test_stage0_rerun_with_fewer_copies_leaves_no_stale_copies(tmp_path):
    write_corpora(tmp_path / "corpora")
    run_stage0(tmp_path, write_config(tmp_path / "conf.yaml"))
    run_stage0(tmp_path, write_config(tmp_path / "conf1.yaml", speeds="[1.0]", copies=0), "--force")
    data = tmp_path / "work" / "data"
    assert sorted(read_datadir(data / "train").utts) == sorted(TRAIN)
    assert not (data / "train" / PERTURB_FILE).exists()


@pytest.mark.parametrize("corpora, message", [
    ("    - {name: ls, kind: librispeach, path: LibriSpeech}\n",
     "corpus 'ls': kind 'librispeach' is not one of librispeech, an4, vctk, commonvoice, kaldi"),
    ("    - {name: vctk, kind: vctk, path: VCTK-0.92}\n", "corpus 'vctk': {root}/VCTK-0.92 does not exist"),
])
def test_bad_corpus_entries_stop_with_one_line(tmp_path, capsys, corpora, message):
    write_corpora(tmp_path / "corpora")
    message = message.format(root=(tmp_path / "corpora").resolve())
    with pytest.raises(SystemExit) as e:
        run_stage0(tmp_path, write_config(tmp_path / "conf.yaml", CORPORA + corpora))
    assert e.value.code == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if message in ln]
    assert len(lines) == 1 and " ERROR " in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "work" / "exp" / "t" / ".stages" / "stage0.prepare.done").exists()
    # the same error from the stage itself, one line
    run = load_recipe()
    cfg = load_yaml(run.RecipeConfig, tmp_path / "conf.yaml")
    cfg.corpus.corpora_root = str(tmp_path / "corpora")
    with pytest.raises(PrepError) as e:
        run.prepare(cfg, tmp_path / "work2")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_dev_speakers_and_empty_corpus_list(tmp_path):
    write_corpora(tmp_path / "corpora")
    run = load_recipe()
    cfg = load_yaml(run.RecipeConfig, write_config(tmp_path / "conf.yaml"))
    cfg.corpus.corpora_root = str(tmp_path / "corpora")
    cfg.corpus.dev_speakers = "splits/nobody.txt"
    with pytest.raises(PrepError, match=r"corpus.dev_speakers: .*splits/nobody.txt does not exist"):
        run.prepare(cfg, tmp_path / "work")
    (tmp_path / "corpora" / "splits" / "nobody.txt").write_text("9999\n")
    with pytest.raises(PrepError, match="dev: no utterances"):
        run.prepare(cfg, tmp_path / "work")
    cfg.corpus.corpora = []
    with pytest.raises(PrepError, match="corpus.corpora is empty"):
        run.prepare(cfg, tmp_path / "work")


def test_default_conf_loads_into_the_recipe_config():
    run = load_recipe()
    cfg = load_yaml(run.RecipeConfig, ROOT / "recipes" / "en" / "conf" / "default.yaml")
    assert isinstance(cfg, run.RecipeConfig) and isinstance(cfg.corpus, run.RealCorpusConfig)
    names = [c.name for c in cfg.corpus.corpora]
    assert len(names) == len(set(names)) >= 3
    assert all(isinstance(c, run.CorpusSpec) and c.kind in run.KINDS for c in cfg.corpus.corpora)
    assert {c.kind for c in cfg.corpus.corpora} >= {"librispeech", "an4", "vctk"}
    p = cfg.corpus.perturb
    assert isinstance(p, PerturbConfig) and p.speeds == [0.9, 1.0, 1.1] and p.channel_copies == 1 and p.enabled
    assert tuple(p.rt60) == (0.2, 0.8) and tuple(p.snr_db) == (5.0, 20.0)
    assert set(cfg.decode_sets) == {"dev"}
    if all(shutil.which(prog) for prog in ("sox", "opusenc")):  # the channels it names need these programs
        p.check()
    assert run.corpora_root(cfg.corpus) == (ROOT / ".." / "shared" / "corpora").resolve()


@pytest.mark.skipif(not REAL.is_dir(), reason=f"the shared corpora are not at {REAL}")
def test_default_conf_names_what_the_shared_corpora_hold():
    run = load_recipe()
    cfg = load_yaml(run.RecipeConfig, ROOT / "recipes" / "en" / "conf" / "default.yaml")
    root = run.corpora_root(cfg.corpus)
    assert root == REAL.resolve()
    assert (root / cfg.corpus.dev_speakers).read_text().split() == ["1898", "3947", "1867", "6848"]
    for c in cfg.corpus.corpora:
        assert (root / c.path).is_dir(), c
        if c.kind == "librispeech":
            assert all((root / c.path / s).is_dir() for s in c.subsets), c


@pytest.mark.skipif(not REAL.is_dir(), reason=f"the shared corpora are not at {REAL}")
def test_stage0_on_the_shared_corpora(tmp_path):
    run = load_recipe()
    cfg = load_yaml(run.RecipeConfig, ROOT / "recipes" / "en" / "conf" / "default.yaml")
    cfg.corpus.corpora_root = str(REAL)
    cfg.corpus.perturb.channels = ["mulaw", "alaw"]  # no codec programs needed: stage 0 only writes the specs
    run.prepare(cfg, tmp_path)
    data = tmp_path / "data"
    dev, local, train = (read_datadir(data / s) for s in ("dev", "local/train", "train"))
    assert len(dev.utts) == 190 and sorted(dev.spk2utt) == ["1867", "1898", "3947", "6848"]
    assert len(local.utts) == 3602 and not set(local.spk2utt) & set(dev.spk2utt)
    assert len(train.utts) == 4 * 3602 and len(read_table(data / "train" / PERTURB_FILE)) == 3 * 3602
    logs = sorted((data / "local").glob("*/*/prepare.log"))
    assert len(logs) == 7, logs  # librispeech x2, an4 x2, vctk, two Common Voice folders
    for log in logs:
        assert "; bad 0 (" in log.read_text(), log
