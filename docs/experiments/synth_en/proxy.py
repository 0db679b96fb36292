"""A fast proxy of the default recipe for a GPU machine without TTS binaries or WordNet.

It swaps the espeak-ng subprocess for the in-process library of the `espeakng-loader` wheel
(espeak_inproc.py), keeps only the espeak-ng voices (flite and festival are not there), and
reads the sentences from a file instead of WordNet. Same sentences, splits, sizes and training
schedule as conf/default.yaml; not bit-exact with the real corpus. Used to compare training
variants in minutes (docs/experiments/synth_en/README.md, "GPU proxy"):

    python docs/experiments/synth_en/proxy.py sentences .proxy/sentences.txt     # here, where WordNet is
    python docs/experiments/synth_en/proxy.py configs .proxy                     # .proxy/conf_<variant>.yaml
    # on the GPU machine (`pip install -e '.[proxy]'`, or carry the espeakng-loader wheel), from the repository root:
    python docs/experiments/synth_en/proxy.py run --sentences .proxy/sentences.txt \
        --config .proxy/conf_base.yaml --work-dir /tmp/pw --stop-stage 3 --device cuda
    for v in base ep8 lr4 light s4 combo; do
        python recipes/synth_en/run.py --config .proxy/conf_$v.yaml --work-dir /tmp/pw --stage 4 --stop-stage 4 --device cuda &
    done; wait
"""

from __future__ import annotations

import copy
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "base": {},
    "ep8": {"train": {"epochs": 8}},
    "lr4": {"train": {"lr": 0.004}},
    "light": {"train": {"specaug": {"num_freq_masks": 1, "num_time_masks": 1}}},
    "s4": {"model": {"stack": 4}, "train": {"epochs": 5}},
    "combo": {"train": {"lr": 0.004, "specaug": {"num_freq_masks": 1, "num_time_masks": 1}}, "model": {"dropout": 0.0}},
}
BASE_SPECAUG = {"num_freq_masks": 2, "num_time_masks": 2}  # the default before the proxy chose 1 + 1


def _merge(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict):
            _merge(a.setdefault(k, {}), v)
        else:
            a[k] = v


def write_configs(out: Path) -> None:
    import yaml

    from data_prep.synth.corpus import DEFAULT_VOICES

    base = yaml.safe_load((HERE.parents[2] / "recipes/synth_en/conf/default.yaml").read_text())
    base["nj"] = 16
    base["corpus"]["voices"] = [v for v in DEFAULT_VOICES if v.startswith("espeak:")]
    base["corpus"]["heldout_voices"] = [v for v in base["corpus"]["heldout_voices"] if v.startswith("espeak:")]
    _merge(base, {"train": {"specaug": BASE_SPECAUG}})
    out.mkdir(parents=True, exist_ok=True)
    for name, change in VARIANTS.items():
        cfg = copy.deepcopy(base)
        _merge(cfg, change)
        cfg["tag"] = name
        (out / f"conf_{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def write_sentences(out: Path) -> None:
    from data_prep.synth.corpus import SynthConfig
    from data_prep.synth.wordnet_text import load_wordnet_sentences

    c = SynthConfig()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(load_wordnet_sentences(Path(c.wordnet_dir), c.min_words, c.max_words)) + "\n")


def run(argv: list[str]) -> None:
    sentences = Path(argv[argv.index("--sentences") + 1])
    rest = argv[: argv.index("--sentences")] + argv[argv.index("--sentences") + 2 :]
    sys.path.insert(0, str(HERE))
    import espeak_inproc

    import data_prep.synth.corpus as se

    espeak_inproc.patch()
    lines = sentences.read_text().splitlines()
    se.load_wordnet_sentences = lambda *a, **k: lines
    sys.argv = ["run.py", *rest]
    runpy.run_path(str(HERE.parents[2] / "recipes/synth_en/run.py"), run_name="__main__")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"configs": lambda: write_configs(Path(args[0])), "sentences": lambda: write_sentences(Path(args[0])),
     "run": lambda: run(args)}[cmd]()
