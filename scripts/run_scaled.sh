#!/usr/bin/env bash
# `make run-scaled`: the scaled-out profile on this machine — nginx in front of two Rasa servers and two action
# servers, Rasa's tracker store and the services' stores in PostgreSQL, Rasa's lock store in Redis. Ctrl-C stops all.
# Needs PostgreSQL (default 127.0.0.1:5432, user postgres, database `tthc` created on first run) and Redis
# (127.0.0.1:6379, db 2). Generated endpoints/credentials/nginx config and logs go to var/scaled/.
# Ports: SCALED_PORT (public, nginx; default 5100), Rasa SCALED_PORT+1.., action servers SCALED_PORT+51..,
# internal action balancer SCALED_PORT+50, staff API SCALED_PORT+90, chat page WEB_PORT (default 8090).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)"
mkdir -p var/scaled
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || {
  echo "Lỗi: chưa cài nginx (chạy \`make setup\` với quyền root, hoặc: apt-get install nginx-light)." >&2; exit 2; }
source scripts/tokens.sh  # the API tokens and session secret, as scripts/run.sh
# Demo applications for status lookups, in the profile's PostgreSQL database (no-op when already seeded).
db_url="postgresql://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:${PGPORT:-5432}/${SCALED_DATABASE:-tthc}"
.venv-actions/bin/python - "$db_url" <<'PY'
import sys
from deploy.scaled_profile import ScaledProfile, ROOT
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
profile = ScaledProfile(ROOT / "var" / "scaled", database=url.path.lstrip("/"), pg_host=url.hostname,
                        pg_port=url.port or 5432, pg_user=url.username or "postgres")
profile.create_database()
pairs = profile.seed_demo(count=3000)  # no-op when the demo data is already there
print("Hồ sơ mẫu để thử tra cứu: " + ", ".join(f"{code} (4 số cuối {last4})" for code, last4, _ in pairs[:3]))
PY
exec .venv-actions/bin/python -m deploy.scaled_profile run --workdir var/scaled
