# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else here is a step those two take.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit e2e clients install system-deps vscode test-vscode bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# llama-cpp-python compiles llama.cpp (about 8-9 minutes on 2 cores); pip caches the wheel.
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ghostls demo

lint: install
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/mypy

# System packages the editor tests drive (Emacs, Chromium for code-server); root or sudo.
system-deps:
	./.ci/system-deps.sh

test: install system-deps lint
	$(BIN)/python -m pytest -q
	$(MAKE) test-vscode

test-vscode: install system-deps
	@if [ -x vscode-extension/test/run-e2e.sh ]; then vscode-extension/test/run-e2e.sh; else echo "no VS Code tests yet"; fi

bench: install
	$(BIN)/python -m ghostls.bench all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
