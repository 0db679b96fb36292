"""The tiny synth_en recipe end to end (stage 0 to 5), then `asr transcribe` on one of its wavs.

This is the test CI relies on to show the spine works: corpus synthesis, features, tokens,
training, decoding, scoring and the CLI, all on data the toolkit makes itself.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "synth_en"


def load_recipe_module():
    spec = importlib.util.spec_from_file_location("synth_en_run", RECIPE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def load_local_script(name):
    """recipes/synth_en/local/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, RECIPE / "local" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("conf", sorted(p.name for p in (RECIPE / "conf").glob("*.yaml")))
def test_every_conf_loads_into_its_dataclass(conf):
    run = load_recipe_module()
    cfg = load_yaml(run.RecipeConfig, RECIPE / "conf" / conf)
    assert isinstance(cfg, run.RecipeConfig)
    assert cfg.model.stack >= 1 and cfg.train.epochs >= 1


def _need_engines():
    missing = [b for b in ("espeak-ng", "flite", "text2wave") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"TTS engines not installed: {missing} (run tools/install_deps.sh as root)")


def test_tiny_recipe_end_to_end(tmp_path):
    _need_engines()
    cmd = [sys.executable, str(RECIPE / "run.py"), "--config", "conf/tiny.yaml", "--work-dir", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=1200)
    exp = tmp_path / "exp" / "tiny"
    for f in ["config.yaml", "tokens.txt", "cmvn.stats", "model.pt", "last.pt", "epoch-1.pt", "train.log", "curves.png", "RESULTS.md"]:
        assert (exp / f).is_file(), f
    for s in ("dev", "test"):
        dec = exp / f"decode_{s}_greedy"
        for f in ("text", "hyp.trn", "ref.trn", "wer", "cer", "per_utt", "per_spk"):
            assert (dec / f).is_file(), dec / f
        assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]\n", (dec / "wer").read_text())
    results = (exp / "RESULTS.md").read_text()
    assert "held out" in results and "| test | all |" in results
    assert "per-utterance mean normalisation" in results.split("## Error rates", 1)[0]  # tiny.yaml: utt_cmn
    family = results.split("## Per voice family", 1)[1].split("## Per voice (speaker)", 1)[0]
    assert "| espeak | seen |" in family and "| flite | seen |" in family  # WER per engine, seen and held out

    # A second run skips every finished stage.
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    assert out.stderr.count("already done") == 8

    # asr transcribe on one of the recipe's own wavs, plus a missing file.
    wav = (tmp_path / "data" / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    missing = tmp_path / "nope.wav"
    res = subprocess.run(
        [sys.executable, "-m", "asr.cli", "transcribe", "--model", str(exp), wav, str(missing)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(wav + "\t")
    assert str(missing) in res.stderr and "file not found" in res.stderr


def test_gpu_pack_round_trip_keeps_ids_texts_and_lengths(tmp_path):
    """local/gpu_pack.py: pack (Opus, an hours cap) -> unpack -> stage 1 there reads every utterance, whole."""
    import numpy as np
    import soundfile as sf

    from asr.data.audio import load_audio
    from asr.data.datadir import read_table, write_table

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    tables: dict[str, dict[str, dict[str, str]]] = {}
    for name, n in (("train", 6), ("dev", 2)):
        (data / name).mkdir(parents=True)
        wav, text, spk, frames = {}, {}, {}, {}
        for i in range(n):
            utt = f"spk{i % 2}-{name}-{i:03d}"
            wave = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000) + 0.01 * rng.standard_normal(16000))
            sf.write(tmp_path / f"{utt}.flac", wave.astype(np.float32), 16000)
            wav[utt], text[utt], spk[utt], frames[utt] = str(tmp_path / f"{utt}.flac"), f"word {i}", f"spk{i % 2}", "100"
        for f, t in (("wav.scp", wav), ("text", text), ("utt2spk", spk), ("utt2num_frames", frames)):
            write_table(data / name / f, t)
        tables[name] = {"text": text}
    (data / "lang").mkdir()
    (data / "lang" / "tokens.txt").write_text("<blk> 0\n| 1\n")
    tool = [sys.executable, str(RECIPE / "local" / "gpu_pack.py")]
    subprocess.run([*tool, "pack", "--data", str(data), "--out", str(tmp_path / "pack"), "--max-train-hours",
                    str(4.5 / 3600), "--nj", "1"], check=True, cwd=ROOT)
    subprocess.run([*tool, "unpack", "--pack", str(tmp_path / "pack"), "--data", str(tmp_path / "there")], check=True,
                   cwd=ROOT)
    train = read_table(tmp_path / "there" / "train" / "wav.scp")
    assert len(train) == 4  # 4 of the 6 one-second utterances fit 4.5 s
    assert len(read_table(tmp_path / "there" / "dev" / "wav.scp")) == 2  # dev is never cut
    for utt, path in train.items():
        assert path.endswith(".opus") and Path(path).is_absolute()
        assert len(load_audio(path)) == 16000  # Opus keeps the length (and 16 kHz) exactly
        assert read_table(tmp_path / "there" / "train" / "text")[utt] == tables["train"]["text"][utt]
    assert (tmp_path / "there" / "lang" / "tokens.txt").read_text() == "<blk> 0\n| 1\n"
    assert read_table(tmp_path / "there" / "train" / "spk2utt")


def test_corpus_stage_writes_audio_under_corpus_dir(tmp_path, monkeypatch):
    """corpus_dir (conf/long_ft2.yaml: corpus_seed1) is where stage 0 puts the audio: a corpus made with other
    settings than the work dir's corpus/ goes beside it instead of being refused."""
    import torch

    run = load_recipe_module()
    calls = []
    monkeypatch.setattr(run, "prepare_synth_en", lambda audio_dir, data, cfg, nj: calls.append(Path(audio_dir)))
    monkeypatch.setattr(run, "read_datadir", lambda d: None)
    monkeypatch.setattr(run, "synth_lm_sentences", lambda d: ["a sentence"])
    (tmp_path / "data").mkdir()
    for corpus_dir in ("corpus", "corpus_seed1"):
        cfg = run.RecipeConfig(corpus_dir=corpus_dir)
        stages = run.build_stages(cfg, tmp_path, torch.device("cpu"), "run.py")
        stages[0].run()
    assert calls == [tmp_path / "corpus", tmp_path / "corpus_seed1"]
    assert load_yaml(run.RecipeConfig, RECIPE / "conf" / "long_ft2.yaml").corpus_dir == "corpus_seed1"


def test_audio_made_with_other_settings_is_refused_naming_them(tmp_path):
    from data_prep.synth_en import SynthConfig, _check_config_stamp

    _check_config_stamp(tmp_path, SynthConfig(seed=0))
    _check_config_stamp(tmp_path, SynthConfig(seed=0, num_train=10))  # sizes may grow
    with pytest.raises(ValueError, match=r"other settings \(reverb_prob, seed\).*corpus_dir"):
        _check_config_stamp(tmp_path, SynthConfig(seed=1, reverb_prob=0.95))


def test_warp_search_table(digit_model_dir, tmp_path, capsys):
    """local/warp_search.py on the digits model: the 1.0 row is plain greedy decoding, scored as sclite
    scores it, the seen and held-out columns split it by speaker, and the oracle row has the lowest CER."""
    from asr.data.batching import FeatureSet
    from asr.data.datadir import read_table
    from asr.decoding.decoders import GreedyDecoder
    from asr.decoding.loop import decode_batches, feature_batches
    from asr.nn.modeldir import ModelDir
    from asr.scoring.wer import score

    module = load_local_script("warp_search")
    src, data = digit_model_dir.parent / "data" / "dev", tmp_path / "dev"
    data.mkdir()
    for f in ("feats.scp", "utt2num_frames", "text"):
        shutil.copy(src / f, data / f)
    utts = sorted(line.split()[0] for line in (src / "text").read_text().splitlines())
    spk = {u: "ab"[i % 2] for i, u in enumerate(utts)}  # two speakers; b is "held out"
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in spk.items()))
    module.main([str(digit_model_dir), str(data), "--alphas", "0.8,1.0,1.2", "--heldout", "b"])
    rows = {}
    for line in capsys.readouterr().out.splitlines()[2:]:
        name, *cells = [c.strip() for c in line.strip("|").split("|")]
        rows[name] = [tuple(float(x) for x in c.split(" / ")) for c in cells]  # all, seen, held out: (CER, WER)
    assert set(rows) == {"fixed 0.8", "fixed 1.0", "fixed 1.2", "oracle (fewest char errors)"} | {
        f"{c}, per {w}" for c in ("maxprob", "nonblank", "entropy") for w in ("utterance", "speaker")}
    md = ModelDir(digit_model_dir)
    refs = read_table(data / "text", allow_empty_value=True)
    hyps = {u: out.hyps["g"][i].text for out in decode_batches(md.build_model(), feature_batches(FeatureSet(data), 20000),
                                                               {"g": GreedyDecoder(md.read_tokens())}, "cpu")
            for i, u in enumerate(out.utts)}
    for col, keep in enumerate((lambda u: True, lambda u: spk[u] == "a", lambda u: spk[u] == "b")):
        r, h = {u: t for u, t in refs.items() if keep(u)}, {u: t for u, t in hyps.items() if keep(u)}
        expected = (score(r, h, char_level=True).total.wer, score(r, h).total.wer)
        assert rows["fixed 1.0"][col] == pytest.approx(expected, abs=0.006)
    assert rows["oracle (fewest char errors)"][0][0] == min(r[0][0] for r in rows.values())
    assert max(r[0][0] for r in rows.values()) > rows["fixed 1.0"][0][0]  # a 20% warp costs this model errors


def test_lm_weight_split_table(digit_model_dir, copy_digit_model, tmp_path, capsys):
    """local/lm_weight_split.py on the digits model after LM tuning: each point's 'all' WER is the one the
    recipe's tuning grid measured, and the seen and held-out columns split its errors by speaker."""
    import torch

    from asr.decoding.base import DecoderConfig
    from asr.lm import LMConfig
    from asr.recipe.decode_stages import tune_lm_stage
    from asr.recipe.stages import DecodingConfig, lm_stage

    src = digit_model_dir.parent / "data"
    data = tmp_path / "data"
    (data / "lang").mkdir(parents=True)
    (data / "train").symlink_to(src / "train")
    shutil.copytree(src / "dev", data / "dev", symlinks=True)
    utts = sorted(line.split()[0] for line in (src / "dev" / "text").read_text().splitlines())
    spk = {u: "ab"[i % 2] for i, u in enumerate(utts)}  # two speakers; b is "held out"
    (data / "dev" / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in spk.items()))
    (data / "dev" / "spk2utt").unlink(missing_ok=True)
    shutil.copy(src / "lang" / "tokens.txt", data / "lang" / "tokens.txt")
    lm_stage(data, LMConfig(order=2), ["dev"])
    exp = copy_digit_model(tmp_path / "exp")
    # the digits model makes no errors at sane weights: a word score of -100 deletes words, an LM weight of 40 all
    tune_lm_stage(data, exp, ["dev"], torch.device("cpu"),
                  DecodingConfig(decoder=DecoderConfig(beam=4, lm_beam=8), lm_weights=[0.5, 40.0], word_scores=[0.0, -100.0],
                                 unk_scores=[]))
    module = load_local_script("lm_weight_split")
    module.main([str(exp), str(data), "--sets", "dev", "--lm-weights", "0.5,40.0", "--word-scores", "0.0,-100.0",
                 "--heldout", "b", "--nj", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| LM weight | word score | dev all | dev seen | dev held out |"
    rows = {(float(c[0]), float(c[1])): [float(x) for x in c[2:]]
            for c in ([x.strip() for x in line.strip("|").split("|")] for line in lines[2:])}
    grid = {(float(r[1]), float(r[2])): float(r[4])
            for r in (line.split("\t") for line in (exp / "tune_lm_dev" / "wer_grid.tsv").read_text().splitlines()[1:])}
    assert set(rows) == set(grid) and len(grid) == 4
    assert len({tuple(r) for r in rows.values()}) == 3  # 0%, 100%, and one point between with seen != held out
    assert any(seen != held for _, seen, held in rows.values())
    words = {g: sum(len((line.split(maxsplit=1) + [""])[1].split()) for line in (src / "dev" / "text").read_text().splitlines()
                    if spk[line.split()[0]] == g) for g in "ab"}
    for point, (all_, seen, held) in rows.items():
        assert all_ == pytest.approx(grid[point], abs=0.006)
        assert all_ == pytest.approx((seen * words["a"] + held * words["b"]) / (words["a"] + words["b"]), abs=0.02)


def _work_dir(root: Path, counts: dict[str, int]) -> Path:
    """A work dir of tables only: data/train with `counts` utterances per speaker, data/test, data/lang."""
    train = root / "data" / "train"
    train.mkdir(parents=True)
    utts = sorted(f"{spk}-train-{i:03d}" for spk, n in counts.items() for i in range(n))
    spk = {u: u.split("-train-")[0] for u in utts}
    tables = {"feats.scp": {u: f"/feats.ark:{i}" for i, u in enumerate(utts)}, "text": {u: "a b" for u in utts},
              "utt2spk": spk, "utt2num_frames": {u: str(100 + i) for i, u in enumerate(utts)},
              "wav.scp": {u: f"/{u}.flac" for u in utts}}
    tables["spk2utt"] = {v: " ".join(u for u in utts if spk[u] == v) for v in counts}
    for name, table in tables.items():
        (train / name).write_text("".join(f"{u} {v}\n" for u, v in table.items()))
    (train / "cmvn.stats").write_text("stats\n")
    (root / "data" / "test").mkdir()
    (root / "data" / "lang").mkdir()
    return root


def _read_tables(d: Path) -> dict[str, dict[str, str]]:
    from asr.data.datadir import read_table

    return {p.name: read_table(p) for p in d.iterdir() if p.name != "cmvn.stats"}


def test_voice_ablation_subsets(tmp_path, capsys):
    """local/voice_ablation.py: half the voices of each engine against as many utterances over all of
    them; Kokoro blends against none, at the same utterance count; the other data sets linked."""
    va = load_local_script("voice_ablation")
    counts = {"espeak-a": 10, "espeak-b": 10, "espeak-c": 11, "flite-a": 9, "flite-b": 10, "pico-en-us": 10}
    src = _work_dir(tmp_path / "src", counts)
    va.main(["voices", str(src), str(tmp_path / "v")])
    half, every = (_read_tables(tmp_path / "v" / n / "data" / "train") for n in ("half_voices", "all_voices"))
    half_voices = set(half["utt2spk"].values())
    families = {"espeak": 2, "flite": 1, "pico": 1}  # ceil(half) of each engine's voices
    assert {f: sum(v.split("-")[0] == f for v in half_voices) for f in families} == families
    assert sorted(half["utt2spk"]) == sorted(u for u, s in _read_tables(src / "data" / "train")["utt2spk"].items()
                                             if s in half_voices)  # every utterance of them
    assert len(every["utt2spk"]) == len(half["utt2spk"]) and len(set(every["utt2spk"].values())) == 6
    per_voice = [list(every["utt2spk"].values()).count(v) for v in counts]
    assert max(per_voice) - min(per_voice) <= 1  # spread evenly where the voices have enough
    for table in ("feats.scp", "text", "utt2num_frames", "wav.scp"):  # the source's rows, unchanged
        source = _read_tables(src / "data" / "train")[table]
        assert every[table] == {u: source[u] for u in every["utt2spk"]}
    assert (tmp_path / "v" / "all_voices" / "data" / "test").resolve() == (src / "data" / "test").resolve()
    assert (tmp_path / "v" / "all_voices" / "data" / "train" / "cmvn.stats").read_text() == "stats\n"
    src = _work_dir(tmp_path / "src2", counts | {f"kokoro-v{i}": 2 for i in range(5)})
    va.main(["kokoro", str(src), str(tmp_path / "k"), "--utts", "30"])
    none, some = (_read_tables(tmp_path / "k" / n / "data" / "train") for n in ("no_kokoro", "kokoro"))
    assert len(none["utt2spk"]) == len(some["utt2spk"]) == 30
    assert not any(s.startswith("kokoro-") for s in none["utt2spk"].values())
    assert sum(s.startswith("kokoro-") for s in some["utt2spk"].values()) == 10  # all of them
    out = capsys.readouterr().out
    assert "30 utterances" in out and "6 voices" in out and "11 voices" in out
    va.main(["kokoro", str(src), str(tmp_path / "k4"), "--utts", "30", "--kokoro", "4"])  # a sample of the blends
    assert _read_tables(tmp_path / "k4" / "no_kokoro" / "data" / "train") == none
    four = _read_tables(tmp_path / "k4" / "kokoro_4" / "data" / "train")
    assert len(four["utt2spk"]) == 30 and sum(s.startswith("kokoro-") for s in four["utt2spk"].values()) == 4
    with pytest.raises(SystemExit, match="has 10 Kokoro-blend utterances"):
        va.main(["kokoro", str(src), str(tmp_path / "k5"), "--utts", "30", "--kokoro", "11"])
    with pytest.raises(SystemExit, match="--utts must be more"):
        va.main(["kokoro", str(src), str(tmp_path / "k2"), "--utts", "10"])
    va.main(["kokoro", str(src), str(tmp_path / "k6"), "--utts", "8", "--kokoro", "4"])  # fewer than all blends
    assert len(_read_tables(tmp_path / "k6" / "kokoro_4" / "data" / "train")["utt2spk"]) == 8
    with pytest.raises(SystemExit, match="only 60 of 80 utterances"):  # the six voices hold 60
        va.main(["kokoro", str(src), str(tmp_path / "k3"), "--utts", "80"])


def test_voice_ablation_group_scores(tmp_path, capsys):
    """`score`: each group's greedy CER and beam+LM WER are the scorer's on that group's utterances;
    speakers no group names are 'train' (in the dir's data/train) or 'other'."""
    from asr.scoring.wer import score

    va = load_local_script("voice_ablation")
    work = _work_dir(tmp_path / "w", {"espeak-a": 1})
    test = work / "data" / "test"
    refs = {"espeak-a-1": "the cat sat", "espeak-b-1": "a dog ran", "pico-en-gb-1": "one two three four"}
    spk = {"espeak-a-1": "espeak-a", "espeak-b-1": "espeak-b", "pico-en-gb-1": "pico-en-gb"}
    greedy = {"espeak-a-1": "the cat sad", "espeak-b-1": "a dog", "pico-en-gb-1": "won to three for"}
    lm = {"espeak-a-1": "the cat sat", "espeak-b-1": "a dog run", "pico-en-gb-1": "one to three four"}
    (test / "text").write_text("".join(f"{u} {t}\n" for u, t in refs.items()))
    (test / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in spk.items()))
    for dec, hyps in (("greedy", greedy), ("lm", lm)):
        d = work / "exp" / "bilstm" / f"decode_test_{dec}"
        d.mkdir(parents=True)
        (d / "text").write_text("".join(f"{u} {t}\n" for u, t in hyps.items()))
    va.main(["score", str(work), "--sets", "test", "--group", "heldout=pico-*"])
    rows = {c[2]: (float(c[3]), float(c[4])) for c in
            ([x.strip() for x in line.strip("|").split("|")] for line in capsys.readouterr().out.splitlines()[2:])}
    assert set(rows) == {"heldout", "train", "other"}
    for group, utts in (("heldout", ["pico-en-gb-1"]), ("train", ["espeak-a-1"]), ("other", ["espeak-b-1"])):
        ref = {u: refs[u] for u in utts}
        cer = score(ref, {u: greedy[u] for u in utts}, char_level=True).total.wer
        wer = score(ref, {u: lm[u] for u in utts}).total.wer
        assert rows[group] == (pytest.approx(cer, abs=0.006), pytest.approx(wer, abs=0.006))
    assert rows["train"][1] == 0.0 and rows["heldout"][1] == 25.0
