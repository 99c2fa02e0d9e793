# modq — two commands on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test test-fast browser bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Installs, starts the embedded broker, migrates SQLite databases under var/, starts the four
# services (web + worker each) and prints the URLs. Ctrl-C stops everything.
run: install
	$(PY) -m tools.devrun

browser:
	@bash scripts/install-browser.sh

test: install browser
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -p no:cacheprovider -m "not e2e and not browser" $(PYTEST_ARGS)

clean:
	rm -rf var/*.db var/*.db-* var/logs
