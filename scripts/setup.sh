#!/usr/bin/env bash
# Installs what mydb-backup's tests, demo and benchmark need on a Debian machine, then the npm dependencies.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
pg_server() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

pg_server || missing+=(postgresql)
have pg_dump || missing+=(postgresql-client)
{ have mariadbd || [ -x /usr/sbin/mariadbd ]; } || missing+=(mariadb-server)
have mariadb || missing+=(mariadb-client)
have zstd || missing+=(zstd)
# The benchmark: pgbench's tables are one of its data sets (pgbench ships with the server on Debian 12, in
# postgresql-contrib before), GNU time measures CPU and peak RSS.
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || missing+=(postgresql-contrib)
[ -x /usr/bin/time ] || missing+=(time)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The packages' own services are not wanted: the tests start private servers on free ports.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! have moto_server; then
  echo "setup: installing moto[server] (the local S3 the tests use)"
  python3 -m pip install --quiet 'moto[server]'
fi

if ! have aws; then
  echo "setup: installing awscli (the benchmark's old way: dump | aws s3 cp -)"
  python3 -m pip install --quiet awscli
fi

npm ci --no-audit --no-fund
echo "setup: done"
