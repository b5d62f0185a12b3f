# Two commands do all their own set-up: `make run` and `make test`.
# The virtualenv (.venv) is created on first use and refreshed when pyproject.toml or
# constraints.txt change (or the Kraken C fast path, built in place by pip). Pass extra arguments with ARGS, e.g. make run ARGS="--for 60s".

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lock clean

$(STAMP): pyproject.toml setup.py constraints.txt plugins/kraken/_fastbook.c
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "arbot needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/arbot run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# Re-pin constraints.txt from a fresh resolve of pyproject.toml.
lock:
	rm -rf /tmp/arbot-lock && $(PYTHON) -m venv /tmp/arbot-lock
	/tmp/arbot-lock/bin/pip install --quiet '.[test]'
	/tmp/arbot-lock/bin/pip freeze --all --exclude arbot --exclude pip > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
