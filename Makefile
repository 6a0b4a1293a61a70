# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need: Debian packages through apt, Python packages into .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
APT_PACKAGES := fonts-noto-cjk libharfbuzz-subset0 gettext chromium nginx redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test serve system-packages setup migrate bench clean-demo

demo: setup
	$(PY) manage.py migrate --noinput
	LMS_DEMO_URL=http://$(HOST):$(PORT) $(PY) manage.py load_demo
	$(MAKE) serve

serve:
	./bin/serve $(HOST) $(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Every benchmark, one table at the end (README "Benchmarks"): `make bench BENCH_ARGS=--quick` for a smoke run;
# DATABASE_URL=postgres://… for the production figures.
bench: setup
	$(PY) manage.py bench all $(BENCH_ARGS)

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	@# A venv left half-made by an interrupted set-up (no pip in it) is made again rather than failing.
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Translations and static files are rebuilt only when their sources changed (stamps in var/), so that two
# `make test` runs can start side by side (.ci/run) without writing the same files at once.
PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
STATIC_SOURCES := $(shell find lms content courses exams manikin certificates instructors inspections \
                    -path '*/static/*' -type f 2>/dev/null)

var/.messages: $(PO_FILES) $(VENV)/.installed
	$(PY) manage.py compilemessages -v 0 --ignore=.venv
	@mkdir -p var && touch $@

var/.static: $(STATIC_SOURCES) $(VENV)/.installed
	$(PY) manage.py collectstatic --noinput -v 0
	@mkdir -p var && touch $@

setup: system-packages $(VENV)/.installed var/.messages var/.static

clean-demo:
	rm -rf var/db.sqlite3* var/media
