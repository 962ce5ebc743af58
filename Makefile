# Two commands a user needs: `make study` (the report on the built-in data) and `make test`.
# Both install the exact versions in requirements/lock.txt; `make lock` refreshes that file.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
DATA ?= synthetic
DATA_ROOT ?=
DEVICE ?= auto
WORKERS ?= 0
ADDRESS ?=
LOCK   := requirements/lock.txt
UV_VERSION := 0.13.9

.PHONY: setup study test book lock clean

$(VENV)/.installed: pyproject.toml $(LOCK) tools/check_install.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r $(LOCK)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) tools/check_install.py $(LOCK)
	touch $@

setup: $(VENV)/.installed

study: setup
	$(PY) -m respcore.study --profile $(PROFILE) --dataset $(DATA) --data-root '$(DATA_ROOT)' --device $(DEVICE) --workers $(WORKERS) --address '$(ADDRESS)'

test: setup
	$(PY) -m pytest -q

book: setup
	$(VENV)/bin/jupyter-book build book

# Re-resolve every dependency from pyproject.toml's ranges and requirements/pins.txt, for every platform
# and Python the project supports (a universal lock, with markers). Review the diff, then `make test`.
lock:
	test -x .lock-venv/bin/uv || ($(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv==$(UV_VERSION))
	.lock-venv/bin/uv pip compile pyproject.toml requirements/build.in --extra grid --extra test --extra book \
	  --constraints requirements/pins.txt --universal --python-version 3.10 \
	  --custom-compile-command 'make lock' --no-emit-package respcore -o $(LOCK)

clean:
	rm -rf _build book/_build
