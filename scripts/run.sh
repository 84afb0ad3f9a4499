#!/usr/bin/env bash
# Starts the action server (5055), the Rasa server (5005) and the chat page (8080); Ctrl-C stops all.
# Expects `make setup train` to have run (the `make run` target does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)"
mkdir -p var logs
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
WEB_PORT=${WEB_PORT:-8080}

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Đang dừng các dịch vụ..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Đã dừng."
}
trap stop INT TERM EXIT

wait_for() {  # wait_for <url> <name> <seconds>
  local i
  for ((i = 0; i < $3; i++)); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then echo "  $2 sẵn sàng."; return 0; fi
    sleep 1
  done
  echo "  $2 không khởi động được sau $3 giây: xem logs/." >&2
  return 1
}

echo "Khởi động máy chủ hành động (action server) cổng $ACTIONS_PORT..."
KB_ENCODER_THREADS=${KB_ENCODER_THREADS:-1} .venv-actions/bin/python -m rasa_sdk --actions actions --port "$ACTIONS_PORT" >logs/actions.log 2>&1 &
pids+=($!)
echo "Khởi động máy chủ Rasa cổng $RASA_PORT..."
.venv-rasa/bin/rasa run --model models/tthc.tar.gz --port "$RASA_PORT" --cors "*" \
  --credentials credentials.yml --endpoints endpoints.yml >logs/rasa.log 2>&1 &
pids+=($!)
echo "Khởi động trang web trò chuyện cổng $WEB_PORT..."
.venv-actions/bin/python scripts/serve_web.py --host 127.0.0.1 --port "$WEB_PORT" \
  --rasa-url "http://localhost:$RASA_PORT" >logs/web.log 2>&1 &
pids+=($!)

wait_for "http://localhost:$ACTIONS_PORT/health" "Action server" 120
echo "  Nạp chỉ mục tri thức và mô hình nhúng..."
.venv-actions/bin/python scripts/warmup_actions.py "http://localhost:$ACTIONS_PORT" || true
wait_for "http://localhost:$RASA_PORT/webhooks/rest/" "Rasa" 240
wait_for "http://localhost:$WEB_PORT/healthz" "Trang web" 30
cat <<MSG

  Trợ lý ảo Dịch vụ công đã sẵn sàng.
  Mở trình duyệt:   http://localhost:$WEB_PORT
  REST API Rasa:    http://localhost:$RASA_PORT/webhooks/rest/webhook
  Nhật ký (logs):   logs/actions.log, logs/rasa.log, logs/web.log
  Nhấn Ctrl-C để dừng.

MSG
# Exit (and stop the rest) as soon as any service dies.
wait -n "${pids[@]}"
echo "Một dịch vụ đã dừng bất thường; xem logs/." >&2
