"""The corpus recipes on fixture data: every config loads; YESNO and the custom-folder recipe run
from preparation to a %WER line; LibriSpeech (BPE), Mini LibriSpeech and TIMIT (PER on 39
phones) run the stages that show their corpus-specific parts. Also the phone and BPE token
tables those recipes train on (asr/data/tokens.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

from asr.config import load_yaml
from asr.data.datadir import read_table
from asr.data.tokens import (
    TokenError,
    TokenTable,
    build_phone_token_table,
    read_tokens,
    write_tokens,
)
from asr.recipe.runner import run_stages

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RECIPES = ("librispeech", "mini_librispeech", "timit", "yesno", "custom")
WER_LINE = re.compile(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]\n")


def load_recipe(name: str):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", ROOT / "recipes" / name / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def run_recipe_stages(name: str, conf: str, work: Path, first: int, last: int, **overrides):
    """Load recipes/<name>/conf/<conf>, set `overrides` (dotted keys), run stages first..last on the CPU."""
    run = load_recipe(name)
    cfg = load_yaml(run.RecipeConfig, ROOT / "recipes" / name / "conf" / conf)
    for key, value in overrides.items():
        *path, last_key = key.split(".")
        obj = cfg
        for p in path:
            obj = getattr(obj, p)
        setattr(obj, last_key, value)
    run_stages(run.build_stages(cfg, work, torch.device("cpu"), "pytest"), work / "exp" / cfg.tag / ".stages", first, last)
    return cfg


@pytest.mark.parametrize("recipe, conf", [(r, p.name) for r in RECIPES for p in sorted((ROOT / "recipes" / r / "conf").glob("*.yaml"))])
def test_every_conf_loads_into_its_dataclass(recipe, conf):
    run = load_recipe(recipe)
    cfg = load_yaml(run.RecipeConfig, ROOT / "recipes" / recipe / "conf" / conf)
    assert cfg.model.layers >= 1 and cfg.train.epochs >= 1 and cfg.tokens.unit in ("char", "bpe", "phone")
    names = [s.name for s in cfg.corpus.sets]
    assert "train" in names and "dev" in names and set(cfg.decode_sets) <= set(names)
    assert (ROOT / "recipes" / recipe / "README.md").is_file()


def test_every_recipe_readme_has_command_cost_and_unrun_results():
    for recipe in RECIPES:
        text = (ROOT / "recipes" / recipe / "README.md").read_text()
        assert f"recipes/{recipe}/run.py" in text and "## Expected disk and time" in text, recipe
        if recipe == "yesno":  # filled from a run on a YESNO-shaped corpus (tests/test_recipe_yesno.py)
            assert "## RESULTS\n\n" in text and "%WER 0.00 [ 0 / 240," in text.split("## RESULTS")[1], recipe
        else:
            assert text.rstrip().endswith("## RESULTS\n\nNot yet run."), recipe


def test_yesno_recipe_end_to_end(tmp_path, capsys):
    run = load_recipe("yesno")
    argv = ["--corpus-dir", str(FIXTURES / "yesno"), "--work-dir", str(tmp_path), "--device", "cpu"]
    run.main(argv)
    exp = tmp_path / "exp" / "bilstm"
    assert WER_LINE.fullmatch((exp / "decode_test_greedy" / "wer").read_text())
    assert "| test | all | 4 | 32 |" in (exp / "RESULTS.md").read_text()
    assert read_table(tmp_path / "data" / "train" / "utt2spk") == {u: "global" for u in read_table(tmp_path / "data" / "train" / "text")}
    capsys.readouterr()
    run.main(argv)  # a second run skips every finished stage
    assert capsys.readouterr().err.count("already done") == 8  # stages 0-7


def test_custom_folder_recipe_end_to_end(tmp_path):
    load_recipe("custom").main(["--config", "conf/tiny.yaml", "--data", str(FIXTURES / "custom" / "folder"),
                                "--work-dir", str(tmp_path), "--device", "cpu"])
    exp = tmp_path / "exp" / "tiny"
    for s in ("dev", "test"):
        assert WER_LINE.fullmatch((exp / f"decode_{s}_greedy" / "wer").read_text())
    assert (tmp_path / "data" / "local" / "prepare.log").read_text().startswith("# prepare.log: custom from")
    speakers = {spk for s in ("train", "dev", "test") for spk in read_table(tmp_path / "data" / s / "utt2spk").values()}
    assert speakers == {"alice", "bob"}


def test_custom_recipe_on_a_segmented_manifest(tmp_path):
    run_recipe_stages("custom", "tiny.yaml", tmp_path, 0, 1, **{"corpus.corpus_dir": str(FIXTURES / "custom" / "manifest" / "manifest.csv")})
    frames = {u: int(n) for s in ("train", "dev", "test") for u, n in read_table(tmp_path / "data" / s / "utt2num_frames").items()}
    assert len(frames) == 5 and all(50 <= n <= 150 for n in frames.values())  # 0.6-1.1 s segments, not whole files


def test_librispeech_recipe_prepares_sets_and_bpe_tokens(tmp_path):
    import sentencepiece as spm  # a hard dependency: a missing one must fail, not skip


    run_recipe_stages("librispeech", "100h_bpe.yaml", tmp_path, 0, 2, nj=1,
                      **{"corpus.corpus_dir": str(FIXTURES / "librispeech")})
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir()) == ["dev", "dev_other", "lang", "local", "test_clean", "test_other", "train"]
    assert list(read_table(data / "train" / "text")) == ["103-1240-0000", "103-1240-0001"]
    table = read_tokens(data / "lang" / "tokens.txt")
    sp = spm.SentencePieceProcessor(model_file=str(data / "lang" / "bpe.model"))
    assert table.unit == "bpe" and table.symbols[0] == "<blk>" and len(table) == sp.get_piece_size()
    train_text = list(read_table(data / "train" / "text").values())
    for text in train_text + [" ".join(reversed(t.split())) for t in train_text] + ["hollow rachel surprised"]:
        ids = table.encode(text)
        assert ids == sp.encode(text) and table.decode(ids) == text


def test_mini_librispeech_recipe_prepares_its_two_subsets(tmp_path):
    run_recipe_stages("mini_librispeech", "default.yaml", tmp_path, 0, 0,
                      **{"corpus.corpus_dir": str(FIXTURES / "mini_librispeech")})
    assert list(read_table(tmp_path / "data" / "train" / "utt2spk")) == ["19-198-0000", "19-198-0001"]
    assert list(read_table(tmp_path / "data" / "dev" / "utt2spk")) == ["1272-141231-0000", "1272-141231-0001"]


def test_timit_recipe_scores_per_on_39_phones(tmp_path):
    cfg = run_recipe_stages("timit", "default.yaml", tmp_path, 0, 7, nj=1, **{
        "corpus.corpus_dir": str(FIXTURES / "timit"), "model.hidden": 16, "model.layers": 1, "train.epochs": 1,
        "train.num_threads": 1})
    exp = tmp_path / "exp" / cfg.tag
    assert read_tokens(exp / "tokens.txt").unit == "phone" and len(read_tokens(exp / "tokens.txt")) <= 49
    for s in ("dev", "test"):
        per = (exp / f"decode_{s}_greedy" / "per39" / "per").read_text()
        assert re.fullmatch(r"%PER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]\n", per)
    assert "## Phone error rate (per39)" in (exp / "RESULTS.md").read_text()


# --- token units (asr/data/tokens.py additions) ---------------------------------------------------


def test_phone_table_encodes_symbols_and_reads_back_as_phones(tmp_path):
    table = build_phone_token_table(["sil sh iy sil", "sil hh aw sil"])
    assert table.symbols == ("<blk>", "aw", "hh", "iy", "sh", "sil") and table.unit == "phone"
    ids = table.encode("sil sh iy")
    assert ids == [5, 4, 3] and table.decode([0, 5, 4, 0, 3]) == "sil sh iy"
    write_tokens(tmp_path / "tokens.txt", table)
    assert read_tokens(tmp_path / "tokens.txt") == table
    with pytest.raises(TokenError, match="utt 'u1': phone 'zh' in 'sil zh' is not in the token table"):
        table.encode("sil zh", utt="u1")
    with pytest.raises(TokenError, match="every phone symbol is one character"):
        build_phone_token_table(["a b c"])


def test_bpe_table_merges_by_piece_id_like_sentencepiece(tmp_path):
    import sentencepiece as spm  # a hard dependency: a missing one must fail, not skip


    texts = ["the cat sat on the mat", "the dog and the cat", "a mat for the dog", "then they sat"] * 20
    (tmp_path / "t.txt").write_text("\n".join(texts) + "\n")
    spm.SentencePieceTrainer.train(input=str(tmp_path / "t.txt"), model_prefix=str(tmp_path / "m"), vocab_size=40,
                                   model_type="bpe", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1,
                                   normalization_rule_name="identity", hard_vocab_limit=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "m.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    table = TokenTable(("<blk>", *pieces[1:]), unit="bpe")
    write_tokens(tmp_path / "tokens.txt", table)
    assert read_tokens(tmp_path / "tokens.txt").unit == "bpe"
    for text in ["the cat", "a dog sat on the mat", "then the cats sat", "tot"]:
        assert table.encode(text) == sp.encode(text) and table.decode(table.encode(text)) == text
    with pytest.raises(TokenError, match="character 'z'"):
        table.encode("zebra")


SENTENCES = [
    "the cat sat on the warm mat", "she sells sea shells by the shore", "a quick brown fox jumps over the dog",
    "we have no time to lose", "the river runs to the sea", "he reads a book every night",
    "open the door and let the light in", "they walked home in the rain", "the children played in the park",
    "my brother works in a small town", "it was a cold and windy day", "please close the window",
    "the old man sold his boat", "water boils at high heat", "the train left the station early",
    "she found the key under the stone",
]


def test_custom_recipe_fine_tunes_the_bundled_model(tmp_path):
    """conf/finetune.yaml starts from the bundled model (models/en): after one short epoch on 12 espeak-ng utterances
    it still recognises the voice (a model trained from scratch on them would output nothing)."""
    from digits import have_espeak

    from asr.data.audio import write_audio
    from asr.data.resample import resample
    from asr.nn.checkpoint import load_state
    from data_prep.synth.engines import Voice, synth_espeak

    if not have_espeak():
        pytest.skip("espeak-ng is not installed (tools/install_deps.sh installs it)")
    corpus = tmp_path / "corpus"
    for i, text in enumerate(SENTENCES):
        split = "train" if i < 12 else "dev" if i < 14 else "test"
        wave, sr = synth_espeak(text, Voice("espeak", "en-us"), 1.0, 1.0)
        (corpus / split).mkdir(parents=True, exist_ok=True)
        write_audio(corpus / split / f"s{i:02d}.wav", resample(wave, sr, 16000), 16000)
        (corpus / split / f"s{i:02d}.txt").write_text(text + "\n")
    work = tmp_path / "work"
    run_recipe_stages("custom", "finetune.yaml", work, 0, 7, **{
        "corpus.corpus_dir": str(corpus), "train.epochs": 1, "train.num_procs": 1, "train.average_last": 1,
    })
    exp = work / "exp" / "finetune"
    from asr.transcribe.bundled import BUNDLED_MODEL

    assert (exp / "tokens.txt").read_text() == (BUNDLED_MODEL / "tokens.txt").read_text()
    assert (exp / "cmvn.stats").read_text() == (BUNDLED_MODEL / "cmvn.stats").read_text()
    assert load_state(exp / "last.pt")["history"][0]["dev_cer"] < 20.0  # 7.5 measured
    assert float((exp / "decode_test_greedy" / "cer").read_text().split()[1]) < 20.0  # 7.41 measured
