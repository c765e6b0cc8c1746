#!/usr/bin/env bash
# Make sure what the tests talk to is installed and running: Redis, PostgreSQL, Chromium, and
# the nginx binary (tests/faults/test_deploy_nginx.py runs a private instance of its own).
# Installs Debian packages when missing (root, as on this project's machines). In CI a
# service that cannot be started fails the run; it never turns into skipped tests.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v xgettext >/dev/null || need_apt+=(gettext)  # tests/ops/test_translations.py runs makemessages
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} (Debian packages)"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# nginx: only the binary is wanted. The deploy test starts its own instance (`nginx -p <tmp>
# -c <conf>` on a free 127.0.0.1 port), so the Debian service must not start on install and
# hold port 80: a policy-rc.d that forbids starting services is in place during the install
# (unless the machine already has one), and a service started anyway is stopped again.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "Installing nginx (Debian package; its service is not started)"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/test-services.sh: no service starts while nginx is installed\nexit 101\n' | \
      $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  { $SUDO apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null; } || status=$?
  [ -n "$own_policy" ] && $SUDO rm -f "$policy"
  [ "$status" = 0 ] || { echo "Installing nginx failed" >&2; exit "$status"; }
  if [ -s /run/nginx.pid ] && $SUDO kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    echo "Stopping the nginx service the package started (the tests run their own nginx)"
    $SUDO nginx -s quit || true
  fi
  if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || { echo "nginx is not installed" >&2; exit 1; }

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "Starting PostgreSQL on 127.0.0.1:5432"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "PostgreSQL is installed but has no cluster" >&2; exit 1
  fi
  conf=/etc/postgresql/$version/main
  # Trust local TCP connections from this machine only (tests use user postgres, no password).
  if ! grep -q "chatty-tests" "$conf/pg_hba.conf"; then
    printf '# chatty-tests\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | \
      cat - "$conf/pg_hba.conf" > "$conf/pg_hba.conf.new" && mv "$conf/pg_hba.conf.new" "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
echo "Redis, PostgreSQL, Chromium and nginx are ready."
