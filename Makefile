# The two commands of the README:  `make demo` (default recipe end to end)  and  `make test`.
# Each one creates or updates .venv and installs what is missing first (timed separately).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
CONFIG  ?= conf/default.yaml
ARGS    ?=

.PHONY: demo test model model-en deps venv clean-demo

demo: deps venv
	$(PY) recipes/synth_en/run.py --config $(CONFIG) $(ARGS)

# models/en_synth (the model `asr transcribe` uses without --model): the recipe with conf/long.yaml (about
# 2 hours on 2 CPU cores), then conf/long_ft.yaml (fine-tunes that model on 40,000 utterances, about
# 82 minutes more), then conf/long_ft2.yaml (fine-tunes it on 30,000 new renderings, about an hour), then
# conf/long_ft3.yaml (24,000 more, a tenth of them Kokoro blends, about 90 minutes), then the last one's
# export with float16 weights, a gzipped LM and lexicon (about 22 MB).
# CONFIG=conf/default.yaml exports the demo's model. Each long*.yaml is a short change to the
# one before (`base:`), and long.yaml to default.yaml.
model: CONFIG = conf/long.yaml conf/long_ft.yaml conf/long_ft2.yaml conf/long_ft3.yaml
model: deps venv
	for c in $(CONFIG); do $(PY) recipes/synth_en/run.py --config $$c $(ARGS) || exit 1; done
	$(VENV)/bin/asr export recipes/synth_en/exp/$$($(PY) -m asr.config tag recipes/synth_en/$(lastword $(CONFIG))) \
	    models/en_synth --half --gzip-lm --force --note recipes/synth_en/local/model_note.md

# models/en (the default of `asr transcribe`): recipes/en fine-tunes models/en_synth on the real speech of
# CORPORA (../shared/corpora here) with conf/default.yaml, then 2 epochs more with conf/more.yaml and 3 with
# conf/third.yaml (about 3.4 hours in all; rerun it to resume), with a word LM on the books of ../shared/lmtext
# (recipes/en/README.md: corpora, times), and exports the last model with float16 weights and a gzipped LM.
# EN_WORK keeps data/ and exp/.
EN_CONFIG ?= conf/default.yaml conf/more.yaml conf/third.yaml
EN_WORK   ?= recipes/en
CORPORA   ?= ../shared/corpora
model-en: deps venv
	for c in $(EN_CONFIG); do $(PY) recipes/en/run.py --config $$c --work-dir $(EN_WORK) --corpora-root $(CORPORA) $(ARGS) || exit 1; done
	$(VENV)/bin/asr export $(EN_WORK)/exp/$$($(PY) -m asr.config tag recipes/en/$(lastword $(EN_CONFIG))) \
	    models/en --half --gzip-lm --force --note recipes/en/model_note.md

test: deps venv
	$(PY) -m pytest -q tests $(ARGS)

deps:
	@bash tools/install_deps.sh

KOKORO_STAMP := $(VENV)/share/kokoro-js/voices/af_bella.bin

venv: $(STAMP) $(KOKORO_STAMP)

$(STAMP): pyproject.toml
	@start=$$(date +%s); \
	test -x $(PY) || python3 -m venv $(VENV); \
	$(PY) -m pip install -q -e '.[test]' || { echo "installation failed: pip's error is above" >&2; exit 1; }; \
	touch $(STAMP); \
	echo "installation: $$(( $$(date +%s) - start )) s"

# Kokoro's English voice tables (npm package kokoro-js): data_prep/synth/kokoro.py
$(KOKORO_STAMP): $(STAMP)
	@start=$$(date +%s); $(PY) -m data_prep.synth.kokoro install && echo "Kokoro voices: $$(( $$(date +%s) - start )) s"

clean-demo:
	rm -rf recipes/synth_en/data recipes/synth_en/corpus recipes/synth_en/exp
