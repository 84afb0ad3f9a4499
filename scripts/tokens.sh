# Sourced by scripts/run.sh and scripts/run_scaled.sh (from the repository root, after `mkdir -p var`).
# Tokens for Rasa's HTTP API (used by the staff API to deliver replies / resume conversations) and for the
# staff API itself: taken from the environment, else generated once and kept in var/ (mode 600).
token_file() {  # token_file <path>: print the token stored there, creating it first if needed
  if [[ ! -s "$1" ]]; then (umask 077; .venv-actions/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$1"); fi
  cat "$1"
}
export RASA_API_TOKEN=${RASA_API_TOKEN:-$(token_file var/rasa_api_token)}
export STAFF_API_TOKEN=${STAFF_API_TOKEN:-$(token_file var/staff_api_token)}
# The shared secret Rasa sends to the action server (endpoints.yml); the action server refuses calls without it.
export ACTION_SERVER_TOKEN=${ACTION_SERVER_TOKEN:-$(token_file var/action_server_token)}
# Signs the web widget's session tokens (a "web-" conversation is usable only with its token).
export CHAT_SESSION_SECRET=${CHAT_SESSION_SECRET:-$(token_file var/chat_session_secret)}
