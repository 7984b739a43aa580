#!/usr/bin/env bash
# Disk full during the build: the index directory sits on a 1 MiB tmpfs. Expected: non-zero exit, a log line
# naming the failing rank and the write failure, no manifest and no leftover *.tmp file. Skipped (77) where
# the sandbox does not allow mounting a tmpfs.
source "$(dirname "$0")/lib.sh" "$1" "$2"
"$CLI" gen --docs 4000 --queries 10 --out "$WORK/c.h5" 2>/dev/null
mkdir -p "$WORK/small"
mount -t tmpfs -o size=1m tmpfs "$WORK/small" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
unmount() { umount "$WORK/small" 2>/dev/null || true; }
trap 'unmount; cleanup' EXIT
rc=0
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/small/idx" --shards 4 >"$WORK/full.log" 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat "$WORK/full.log" >&2; fail "a full disk must fail the build (rc=$rc)"; }
grep -Eq 'rank [01] failed: shard [0-9]+ .*(disk full|No space|write failed|cannot)' "$WORK/full.log" \
  || { cat "$WORK/full.log" >&2; fail "the failing rank and the write error are not named"; }
[[ ! -e "$WORK/small/idx/manifest.json" ]] || fail "a manifest was written"
! ls "$WORK/small/idx/"*.tmp >/dev/null 2>&1 || fail "temporary shard files left behind"
echo "passed mpi_disk_full"
