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
STAFF_API_PORT=${STAFF_API_PORT:-5056}
CONSOLE_PORT=${CONSOLE_PORT:-8081}
# RASA_API_TOKEN, STAFF_API_TOKEN, ACTION_SERVER_TOKEN, CHAT_SESSION_SECRET: from the environment, else var/.
source scripts/tokens.sh
# Listening addresses: loopback unless widened explicitly (e.g. ACTION_SERVER_HOST=0.0.0.0).
export ACTION_SERVER_HOST=${ACTION_SERVER_HOST:-127.0.0.1}
RASA_HOST=${RASA_HOST:-127.0.0.1}
# Browser origins allowed to call Rasa (space-separated): the chat page by default, never "*".
RASA_CORS_ORIGINS=${RASA_CORS_ORIGINS:-"http://localhost:$WEB_PORT http://127.0.0.1:$WEB_PORT"}
export RASA_URL=${RASA_URL:-http://localhost:$RASA_PORT}

# Zalo OA channel (channels/zalo): enabled when ZALO_APP_ID is set. Rasa expands the ${ZALO_...} placeholders
# itself, so the secrets never land in the generated credentials file.
CREDENTIALS_FILE=credentials.yml
if [[ -n "${ZALO_APP_ID:-}" ]]; then
  zalo_missing=()
  for var in ZALO_OA_SECRET_KEY ZALO_ACCESS_TOKEN ZALO_REFRESH_TOKEN; do
    [[ -n "${!var:-}" ]] || zalo_missing+=("$var")
  done
  if [[ ${#zalo_missing[@]} -gt 0 ]]; then
    echo "Lỗi: đã đặt ZALO_APP_ID nhưng thiếu ${zalo_missing[*]}. Xem mục «Kênh Zalo OA» trong README." >&2
    echo "Error: ZALO_APP_ID is set but these are missing: ${zalo_missing[*]}. See \"Kênh Zalo OA\" in README.md." >&2
    exit 2
  fi
  export ZALO_API_BASE=${ZALO_API_BASE:-https://openapi.zalo.me}
  export ZALO_OAUTH_BASE=${ZALO_OAUTH_BASE:-https://oauth.zaloapp.com}
  CREDENTIALS_FILE=var/credentials.run.yml
  { cat credentials.yml; cat <<YAML

channels.zalo.ZaloInput:
  app_id: \${ZALO_APP_ID}
  oa_secret_key: \${ZALO_OA_SECRET_KEY}
  access_token: \${ZALO_ACCESS_TOKEN}
  refresh_token: \${ZALO_REFRESH_TOKEN}
  api_base: \${ZALO_API_BASE}
  oauth_base: \${ZALO_OAUTH_BASE}
  token_store_path: var/zalo_tokens.json
  action_health_url: "http://localhost:$ACTIONS_PORT/health"
  seen_store: "${ZALO_SEEN_STORE:-var/zalo_seen.db}"
  health_token: \${RASA_API_TOKEN}
YAML
  } >"$CREDENTIALS_FILE"
  echo "Kênh Zalo OA: bật (webhook POST /webhooks/zalo/webhook, tình trạng GET /webhooks/zalo/)."
fi

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
# Each server sets its process up at start-up, never at import: rasa-sdk calls rasa_sdk_plugins.init_hooks, and
# Rasa runs channels/process.py when it builds the channels named in the credentials file.
KB_ENCODER_THREADS=${KB_ENCODER_THREADS:-1} .venv-actions/bin/python -m rasa_sdk --actions actions --port "$ACTIONS_PORT" >logs/actions.log 2>&1 &
pids+=($!)
echo "Khởi động máy chủ Rasa cổng $RASA_PORT..."
# RASA_API_TOKEN signs the JWTs API callers send in the Authorization header (never ?token= in URLs).
# shellcheck disable=SC2086 # RASA_CORS_ORIGINS is a list of words
.venv-rasa/bin/rasa run --model models/tthc.tar.gz --interface "$RASA_HOST" --port "$RASA_PORT" --cors $RASA_CORS_ORIGINS \
  --credentials "$CREDENTIALS_FILE" --endpoints endpoints.yml --enable-api --jwt-secret="$RASA_API_TOKEN" \
  >logs/rasa.log 2>&1 &
pids+=($!)
echo "Khởi động API cho cán bộ (staff API) cổng $STAFF_API_PORT..."
.venv-actions/bin/python -m staff_api --host 127.0.0.1 --port "$STAFF_API_PORT" >logs/staff_api.log 2>&1 &
pids+=($!)
echo "Khởi động bảng điều khiển cho cán bộ cổng $CONSOLE_PORT..."
.venv-actions/bin/python -m console ensure-demo  # demo account on first run only (password printed once)
KB_ENCODER_THREADS=${KB_ENCODER_THREADS:-1} .venv-actions/bin/python -m console --host 127.0.0.1 --port "$CONSOLE_PORT" \
  >logs/console.log 2>&1 &
pids+=($!)
echo "Khởi động tiến trình gửi thông báo thay đổi trạng thái hồ sơ (Zalo, trò chuyện trên web)..."
# Delivers the outbox through Rasa's API (RASA_URL, RASA_API_TOKEN above) and the Zalo OA API (notifier/).
.venv-actions/bin/python -m notifier worker >logs/notifier.log 2>&1 &
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
wait_for "http://localhost:$STAFF_API_PORT/health" "API cho cán bộ" 30
wait_for "http://localhost:$CONSOLE_PORT/health" "Bảng điều khiển cho cán bộ" 30
cat <<MSG

  Trợ lý ảo Dịch vụ công đã sẵn sàng.
  Mở trình duyệt:   http://localhost:$WEB_PORT
  REST API Rasa:    http://localhost:$RASA_PORT/webhooks/rest/webhook
  API cho cán bộ:   http://localhost:$STAFF_API_PORT/api/handoffs (mã truy cập trong var/staff_api_token
                    hoặc biến STAFF_API_TOKEN)
  Nhật ký (logs):   logs/actions.log, logs/rasa.log, logs/web.log, logs/staff_api.log, logs/notifier.log
  Bảng điều khiển:  http://localhost:$CONSOLE_PORT (cán bộ; nhật ký logs/console.log)
  Nhấn Ctrl-C để dừng.

MSG
# Exit (and stop the rest) as soon as any service dies.
wait -n "${pids[@]}"
echo "Một dịch vụ đã dừng bất thường; xem logs/." >&2
