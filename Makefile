# The two commands of the README:  `make demo` (default recipe end to end)  and  `make test`.
# Each one creates or updates .venv and installs what is missing first (timed separately).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
CONFIG  ?= conf/default.yaml
ARGS    ?=

.PHONY: demo test deps venv clean-demo

demo: deps venv
	$(PY) recipes/synth_en/run.py --config $(CONFIG) $(ARGS)

test: deps venv
	$(PY) -m pytest -q tests $(ARGS)

deps:
	@bash tools/install_deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@start=$$(date +%s); \
	test -x $(PY) || python3 -m venv $(VENV); \
	$(PY) -m pip install -q -e '.[test]' && touch $(STAMP); \
	echo "installation: $$(( $$(date +%s) - start )) s"

clean-demo:
	rm -rf recipes/synth_en/data recipes/synth_en/corpus recipes/synth_en/exp
