# The two commands a learner needs: `make lab` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PORT   ?= 8888
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
TEST_STAMP = $(VENV)/.installed-test
# Each set-up step prints one line; pip's output goes to this log, shown only when a step fails.
LOG     = $(VENV)/install.log
STEP    = sh scripts/step.sh $(LOG)
# JupyterLab reads setting overrides from the environment's settings folder: the course ships its
# defaults there (no "get Jupyter news?" pop-up, no update checks) rather than asking the learner.
LAB_SETTINGS = $(VENV)/share/jupyter/lab/settings/overrides.d/oauth-hands-on.json

.PHONY: lab test notebooks server workshop bench fuzz clean

$(STAMP): requirements.txt pyproject.toml
	@mkdir -p $(VENV) && : > $(LOG)
	@$(STEP) "Creating the Python environment $(VENV) (about 5 s)" $(PYTHON) -m venv $(VENV)
	@$(STEP) "Updating pip (about 5 s)" $(PY) -m pip install --upgrade pip
	@$(STEP) "Installing requirements.txt: JupyterLab, Flask, Authlib (120 MB; a few minutes, 30 s \
	from pip's cache)" $(PY) -m pip install -r requirements.txt
	@$(STEP) "Installing the course's packages, oauth_lab and mock_server (about 5 s)" \
		$(PY) -m pip install --no-deps -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.txt
	@$(STEP) "Installing requirements-test.txt: pytest, Playwright, JupyterHub (about 20 s from pip's \
	cache)" $(PY) -m pip install -r requirements-test.txt
	@touch $(TEST_STAMP)

$(LAB_SETTINGS): jupyter-settings/overrides.json
	@mkdir -p $(@D) && cp $< $@

# The printed link opens notebook 00 (default_url); JupyterLab logs only warnings and the link.
# As root (a container, a dev box) JupyterLab refuses to start without --allow-root.
lab: $(STAMP) $(LAB_SETTINGS)  ## JupyterLab on notebook 00 (make lab PORT=9999 for another port)
	@if [ "$$(id -u)" = 0 ]; then root=--allow-root; else root=; fi; \
	echo "Starting JupyterLab on port $(PORT) (about 5 s). Open the link it prints: notebook 00 opens."; \
	echo "(Ctrl-C twice stops it.)"; \
	$(VENV)/bin/jupyter lab notebooks $$root --port=$(PORT) --LabApp.default_url=/lab/tree/00-start-here.ipynb \
		--ServerApp.log_level=WARN --LabApp.log_level=WARN

test: $(TEST_STAMP)  ## every test: the notebooks (strict nbval) beside the rest on pytest-xdist workers
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
