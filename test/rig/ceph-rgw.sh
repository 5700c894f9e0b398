#!/usr/bin/env bash
# Single-node Ceph (mon + memstore osd, no mgr, no systemd) + radosgw (beast) on 127.0.0.1.
# usage: ceph-rgw.sh up DIR | ceph-rgw.sh down DIR   (installs ceph-mon, ceph-osd, radosgw from Debian if missing; ~15 s to start)
# env: RGW_SSE_S3_DEFAULT_KEY=1 adds "rgw crypt default encryption key" (objects encrypted at rest, SSE not reported)
# up writes DIR/rgw.env: RGW_PORT RGW_ENDPOINT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_KMS_KEY_ID CEPH_CONF
#
# Copied from the project's shared tools (/work/shared/tools/ceph-rgw.sh, sha256 73251a60…93aa) so that CI, a clean
# clone on a fresh machine, has it. Changes: no aws cli: the final wait for a signed request uses curl --aws-sigv4
# (curl is installed with the ceph packages when missing) and stops when DIR is gone. scripts/setup.sh installs the
# packages; the tests start it through test/rig/rgw.ts with DIR as the working directory, so the daemons (which keep
# it) and their pid files under DIR/run are found by test/rig/reap.sh.
set -euo pipefail
cmd=${1:?usage: rgw.sh up|down DIR}; dir=${2:?usage: rgw.sh up|down DIR}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
conf=$dir/ceph.conf
ACCESS=rgwtestaccesskey0001; SECRET=rgwtestsecretkey000000000000000000000001
KMS_ID=testkey-1
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
log() { echo "[rgw.sh $(date +%T)] $*" >&2; }

case $cmd in
up)
  need=""
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do command -v $b >/dev/null || need=1; done
  if [ -n "$need" ]; then
    log "installing ceph packages"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl >/dev/null
  fi
  mkdir -p "$dir"/{mon/ceph-a,osd/ceph-0,rgw,log,run}
  fsid=$(uuidgen); MON2=$(free_port); MON1=$(free_port); RGW=$(free_port)
  KMSKEY=$(head -c 32 /dev/urandom | base64)
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
ms bind ipv6 = false
[mon]
mon data = $dir/mon/\$cluster-\$id
[osd]
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 8589934592
osd memory target = 939524096
osd max object size = 134217728
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = $KMS_ID=$KMSKEY
rgw crypt require ssl = false
CONF
  # Pacific has no real SSE-S3: "x-amz-server-side-encryption: AES256" is accepted and ignored unless a
  # default key is set, which then encrypts EVERY object at rest (mode RGW-AUTO) but never reports SSE back.
  [ "${RGW_SSE_S3_DEFAULT_KEY:-0}" = 1 ] && echo "rgw crypt default encryption key = $(head -c 32 /dev/urandom | base64)" >>"$conf"
  t0=$(date +%s)
  k=$dir/keyring
  ceph-authtool --create-keyring "$k" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$k" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$k" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$k"
  ceph-mon -c "$conf" -i a
  for i in $(seq 60); do timeout 5 ceph -c "$conf" mon stat >/dev/null 2>&1 && break; sleep 0.5; done
  log "mon up"
  # the rgw key lives in the mon's auth db too
  ceph -c "$conf" auth import -i "$k" >/dev/null 2>&1
  uuid=$(uuidgen); osec=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}' "$osec" >"$dir/osd-secret.json"
  id=$(ceph -c "$conf" osd new "$uuid" -i "$dir/osd-secret.json")
  ceph-authtool --create-keyring "$dir/osd/ceph-$id/keyring" --name "osd.$id" --add-key "$osec" >/dev/null
  ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" --keyring "$dir/osd/ceph-$id/keyring" 2>"$dir/log/osd-mkfs.err" >/dev/null
  ceph-osd -c "$conf" -i "$id" --keyring "$dir/osd/ceph-$id/keyring"
  for i in $(seq 120); do [ "$(ceph -c "$conf" osd stat -f json 2>/dev/null | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["num_up_osds"])' 2>/dev/null)" = 1 ] && break; sleep 0.5; done
  log "osd up"
  radosgw -c "$conf" -n client.rgw.a --keyring "$k"
  for i in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$RGW/" && break; sleep 0.5; done
  log "rgw listening"
  radosgw-admin -c "$conf" -n client.admin user create --uid=tester --display-name=tester \
      --access-key="$ACCESS" --secret-key="$SECRET" >"$dir/user.json"
  cat >"$dir/rgw.env" <<ENV
RGW_PORT=$RGW
RGW_ENDPOINT=http://127.0.0.1:$RGW
RGW_ACCESS_KEY=$ACCESS
RGW_SECRET_KEY=$SECRET
RGW_KMS_KEY_ID=$KMS_ID
CEPH_CONF=$conf
ENV
  # A signed ListBuckets (curl's SigV4, the keys on stdin rather than in argv; RGW wants the payload hash, here of the
  # empty body, as a header). Gives up when DIR is gone (reaped).
  empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  for i in $(seq 60); do
    printf 'user = "%s:%s"\n' "$ACCESS" "$SECRET" | curl -sf -o /dev/null -K - --aws-sigv4 "aws:amz:us-east-1:s3" \
      -H "x-amz-content-sha256: $empty_sha256" "http://127.0.0.1:$RGW/" && break
    [ "$i" = 60 ] || [ ! -d "$dir" ] && { echo "rgw never answered a signed ListBuckets" >&2; exit 1; }
    sleep 1
  done
  log "up in $(( $(date +%s) - t0 ))s"
  cat "$dir/rgw.env";;
down)
  for n in client.rgw.a osd.0 mon.a; do
    f=$dir/run/$n.pid
    [ -f "$f" ] || continue
    p=$(cat "$f"); kill "$p" 2>/dev/null || true
    for i in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
  done
  case "$dir" in /|/tmp|/root|"") echo "refusing to remove $dir" >&2; exit 2;; esac
  rm -rf "$dir";;
*) echo "usage: rgw.sh up|down DIR" >&2; exit 2;;
esac
