# The two commands a learner needs: `make lab` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: lab test notebooks server bench fuzz clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab on the first notebook (the server starts from the notebook)
	@if [ -f notebooks/00-start-here.ipynb ]; then \
		$(VENV)/bin/jupyter lab notebooks/00-start-here.ipynb; \
	else $(PY) -m mock_server; fi

test: $(STAMP)  ## every test
	$(PY) -m pytest

notebooks: $(STAMP)  ## re-run every notebook cleanly (deterministic) and save its outputs
	timeout 900 $(PY) scripts/run_notebooks.py

server: $(STAMP)  ## the mock server alone, in the foreground (add ARGS="--seed 1 ...")
	$(PY) -m mock_server $(ARGS)

bench: $(STAMP)  ## throughput and latency figures (a script, not a test)
	$(PY) benchmarks/bench_server.py

fuzz: $(STAMP)  ## the robustness property test, run much longer than in `make test`
	$(PY) scripts/fuzz_server.py

clean:
	rm -rf $(VENV) .pytest_cache
