# Two commands do all set-up: `make run` (serve the app) and `make test` (run the test suite).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# torch 2.13.0 is a small CPU build (pip takes it from local wheels where present); CUDA users can
# install any newer torch into .venv before `make run`.
TORCH ?= torch==2.13.0

.PHONY: run test venv tables bench clean cluster

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

venv: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/ganpaint serve --host $(HOST) --port $(PORT)

# several replicas behind HAProxy sharing sessions through Redis (Debian's redis-server and haproxy)
REPLICAS ?= 2
cluster: $(BIN)/.installed
	$(BIN)/python -m server.cluster --replicas $(REPLICAS) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider

# after new generator weights: concept tables, evaluation and brush pictures that match them
tables: $(BIN)/.installed
	$(BIN)/ganpaint dissect --model scenes
	$(BIN)/ganpaint choose-levels --model scenes --factors 0.15,0.25,0.35,0.5,0.7,1.0 --threads 2
	# brick=mean and grass=mean were chosen by eye on docs/brushes/choice/: look again after new weights
	$(BIN)/ganpaint choose-brushes --model scenes --threads 2 \
	  --by-eye "brick=mean:8:the learned brush paints an orange glow that the ranking segmenter reads as brick" \
	  --by-eye "grass=mean:8:the learned brush paints pale squares with white specks on roads; the mean brush paints lawn that continues the grass around it"
	$(BIN)/ganpaint choose-fills --model scenes --threads 2
	$(BIN)/ganpaint evaluate --model scenes

# every benchmark prints a table and writes benchmarks/results/<name>.json (run on an idle machine)
bench: $(BIN)/.installed
	for b in latency concurrency threads render reference realmodel dissection photo_load photo_memory photo_edits; do $(BIN)/python benchmarks/$$b.py || exit 1; done
	$(BIN)/python benchmarks/adaptation.py --model models/scenes
	$(BIN)/python benchmarks/brush_size.py --sheet docs/brush_size.png

clean:
	rm -rf $(VENV) .pytest_cache
