#!/usr/bin/env bash
# OpenRealtime past one process, on one machine (README, "Serving past one machine"):
#
#   Redis (shared client secrets)
#   one model server: llama.cpp's OpenAI-compatible server for the LLM, and one
#     OpenRealtime process whose /v1/audio/* routes serve Whisper and Piper
#   N OpenRealtime replicas (--llm-url, --stt-url, --tts-url, --redis-url)
#   nginx in front (deploy/nginx.conf, its upstream rewritten for the N replicas)
#
# Usage: deploy/serve-replicas.sh [N]         (from the repository, after `make setup`)
#   REPLICAS=4 BASE_PORT=8801 LISTEN=8080 LOCAL_MODELS=1 deploy/serve-replicas.sh
# LOCAL_MODELS=1: no model servers; each replica loads its own models (simplest, and
# the most memory). Ctrl+C stops everything; the replicas drain first (SIGTERM).
# On several machines: run the same commands per host, with the URLs pointing across.
set -euo pipefail
cd "$(dirname "$0")/.."

REPLICAS=${1:-${REPLICAS:-2}}
BASE_PORT=${BASE_PORT:-8801}
LISTEN=${LISTEN:-8080}
REDIS_PORT=${REDIS_PORT:-6379}
LLM_PORT=${LLM_PORT:-8000}
SPEECH_PORT=${SPEECH_PORT:-8800}
RUN=${RUN:-$(mktemp -d /tmp/openrealtime-deploy.XXXXXX)}
PY=.venv/bin/python
SERVE=(.venv/bin/openrealtime serve)
pids=()

stop() {
  # SIGTERM: each replica refuses new sessions, lets the open ones finish (up to
  # OPENREALTIME_DRAIN_TIMEOUT_S), then exits 0.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
trap stop EXIT INT TERM

wait_ready() {  # wait_ready URL: until it answers 200 (models load in 5-20 s)
  for _ in $(seq 1 300); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.5
  done
  echo "no answer from $1" >&2
  return 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  >"$RUN/redis.log" 2>&1 &
pids+=($!)
export OPENREALTIME_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

models=()
if [ "${LOCAL_MODELS:-0}" != 1 ]; then
  # The LLM: llama.cpp's server with the bundled SmolLM2 (or any GGUF; vLLM works too:
  # `vllm serve MODEL --port $LLM_PORT`).
  gguf=$($PY -c 'from openrealtime.backends.local.llama import bundled_model_path as p; print(p())')
  $PY -m llama_cpp.server --model "$gguf" --host 127.0.0.1 --port "$LLM_PORT" \
    --n_threads "${LLM_THREADS:-2}" --n_ctx 2048 --interrupt_requests False >"$RUN/llm.log" 2>&1 &
  pids+=($!)
  # Speech: an OpenRealtime process (Whisper, Piper) serving /v1/audio/transcriptions
  # and /v1/audio/speech; speaches (https://speaches.ai) is a drop-in alternative.
  "${SERVE[@]}" --host 127.0.0.1 --port "$SPEECH_PORT" --max-sessions 1 \
    >"$RUN/speech.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$LLM_PORT/v1/models"
  wait_ready "http://127.0.0.1:$SPEECH_PORT/readyz"
  models=(--llm-url "http://127.0.0.1:$LLM_PORT/v1" --llm-model smollm2
          --stt-url "http://127.0.0.1:$SPEECH_PORT/v1" --tts-url "http://127.0.0.1:$SPEECH_PORT/v1")
fi

upstream=""
for i in $(seq 0 $((REPLICAS - 1))); do
  port=$((BASE_PORT + i))
  # setsid: Ctrl+C reaches this script, which drains the replicas (SIGTERM), not them
  setsid "${SERVE[@]}" --host 127.0.0.1 --port "$port" "${models[@]}" \
    >"$RUN/replica-$port.log" 2>&1 &
  pids+=($!)
  upstream+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;\n"
done
for i in $(seq 0 $((REPLICAS - 1))); do wait_ready "http://127.0.0.1:$((BASE_PORT + i))/readyz"; done

# deploy/nginx.conf with this run's replicas, port and paths (no root needed).
mkdir -p "$RUN/nginx/logs"
sed -e '/^        server 127\.0\.0\.1:[0-9]* /d' \
    -e "s|^        least_conn;|        least_conn;\n$upstream|" \
    -e "s|listen 8080;|listen $LISTEN;|" \
    -e "s|/var/log/nginx/openrealtime.access.log|$RUN/nginx/logs/access.log|" \
    deploy/nginx.conf >"$RUN/nginx/nginx.conf"
nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/logs/error.log" \
  -g "daemon off; pid $RUN/nginx/nginx.pid;" &
pids+=($!)
wait_ready "http://127.0.0.1:$LISTEN/readyz"

echo "serving ws://127.0.0.1:$LISTEN/v1/realtime ($REPLICAS replicas; logs in $RUN)"
echo "metrics: $(for i in $(seq 0 $((REPLICAS - 1))); do printf 'http://127.0.0.1:%d/metrics ' $((BASE_PORT + i)); done)"
wait
