# The README's two commands: `make run` and `make test` (plus `make lint`).
# The virtual environment is a file target: it is (re)installed only when pyproject.toml changes.

SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV ?= .venv
STAMP := $(VENV)/.installed
# One worker per CPU; a test file stays on one worker, so its module-scoped fixtures run once.
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: run test lint venv system-deps clean

$(STAMP): pyproject.toml
	@if [ ! -x "$(VENV)/bin/python" ]; then \
		echo "Creating $(VENV)"; \
		python3.11 -m venv "$(VENV)" 2>/dev/null || { rm -rf "$(VENV)"; python3 -m venv "$(VENV)"; }; \
	fi
	@echo "Installing gar-testbed and its pinned dependencies into $(VENV)"
	@"$(VENV)/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch "$@"

venv: $(STAMP)

run: $(STAMP)
	"$(VENV)/bin/gar-testbed" up

# Debian's Chromium drives the browser tests; pysaml2 (interoperability tests) needs xmlsec1.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v xmlsec1 >/dev/null 2>&1 || missing="$$missing xmlsec1"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing$$missing with apt-get"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "Not installing$$missing (needs root and apt-get): the tests needing them are skipped"; \
		fi; \
	fi

test: $(STAMP) system-deps
	"$(VENV)/bin/pytest" $(PYTEST_ARGS)

lint: $(STAMP)
	"$(VENV)/bin/ruff" check services broker idp_mock provider_mock bench tests
	"$(VENV)/bin/mypy" --strict services broker

clean:
	rm -rf "$(VENV)" .pytest_cache .mypy_cache .ruff_cache
