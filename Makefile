# The two commands a learner needs: `make lab` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: lab test notebooks server workshop bench fuzz clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing requirements.txt (JupyterLab, Flask, Authlib, Playwright...) into $(VENV):"
	@echo "about 120 MB to download and 500 MB on disk. The first time this takes a few minutes,"
	@echo "depending on your network; with pip's cache warm, about 20 seconds."
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# As root (a container, a dev box) JupyterLab refuses to start without --allow-root.
lab: $(STAMP)  ## open JupyterLab on the first notebook (the server starts from the notebook)
	@if [ "$$(id -u)" = 0 ]; then root=--allow-root; else root=; fi; \
	if [ -f notebooks/00-start-here.ipynb ]; then \
		$(VENV)/bin/jupyter lab $$root notebooks/00-start-here.ipynb; \
	else $(PY) -m mock_server; fi

test: $(STAMP)  ## every test: the notebooks (strict nbval) beside the rest on pytest-xdist workers
	$(PY) scripts/run_tests.py $(ARGS)

notebooks: $(STAMP)  ## re-run every notebook cleanly (deterministic) and save its outputs
	timeout 900 $(PY) scripts/run_notebooks.py

server: $(STAMP)  ## the mock server alone, in the foreground (add ARGS="--seed 1 ...")
	$(PY) -m mock_server $(ARGS)

workshop: $(STAMP)  ## a class server: a world per learner (README, "For instructors"; ARGS="--host ...")
	$(PY) -m mock_server --workshop $(ARGS)

bench: $(STAMP)  ## throughput and latency figures (a script, not a test)
	$(PY) benchmarks/bench_server.py

fuzz: $(STAMP)  ## the robustness property test, run much longer than in `make test`
	$(PY) scripts/fuzz_server.py

clean:
	rm -rf $(VENV) .pytest_cache
