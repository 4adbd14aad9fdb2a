# Two commands on a fresh Debian machine (as root): `make demo` and `make test`.
# Both install what they need: Debian packages, a virtualenv and the Python packages.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kendali-installed
# mosquitto: the broker; ffmpeg: H.264 for the camera simulator; socat: serial/pty tooling;
# GStreamer RTSP server: an RTSP implementation that is not ours, for camera tests;
# postgresql: the controller's production database, tested beside SQLite.
# chromium + chromium-driver: the operator console tested in a real headless browser (the
# driver is the same Debian build as the browser, so nothing is downloaded at test time).
# shellcheck: lints deploy/install.sh.
# fuse3 (with libfuse3): the storage-fault tests' own failing disk (tests/faults/faultfs.py).
APT_PACKAGES := mosquitto mosquitto-clients ffmpeg socat python3-gi gir1.2-gst-rtsp-server-1.0 \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly postgresql \
	chromium chromium-driver shellcheck fuse3

.PHONY: all demo test lint bench apt-deps venv clean

all: test

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: apt-deps $(STAMP)

demo: venv
	$(BIN)/kendali demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	shellcheck deploy/install.sh

test: venv lint
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: venv
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
