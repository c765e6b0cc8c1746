#!/usr/bin/env bash
# `make run` after installing: migrate, collect static files, serve in the foreground with
# daphne on $HOST:$PORT (127.0.0.1:8000). DEBUG is off unless asked for (`make run DEBUG=1`),
# so a person trying Chatty sees its own error pages, not Django's debug pages; the secret key
# is then the one generated once into .secret_key (git-ignored), unless SECRET_KEY is set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DEBUG="${DEBUG:-0}"
if [ -z "${SECRET_KEY:-}" ]; then
  if [ ! -s .secret_key ]; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > .secret_key)
  fi
  SECRET_KEY="$(cat .secret_key)"
  export SECRET_KEY
fi
"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput -v0
exec .venv/bin/daphne -b "${HOST:-127.0.0.1}" -p "${PORT:-8000}" chatty.asgi:application
