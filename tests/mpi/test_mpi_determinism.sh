#!/usr/bin/env bash
# mpirun -n 1, 2 and 4 (oversubscribed) build the same corpus into 5 shards: the shard files are byte-for-byte
# identical, the manifests identical but for timings, and `aftershock search --index` gives identical runs.
# Also: rank r builds shards r, r+R, ... and rank 0 prints aggregated progress. A second corpus with dense
# vectors (sparse + dense) and a dense-only copy of it do the same with HNSW and IVF-PQ dense shards.
source "$(dirname "$0")/lib.sh" "$@"

gen_corpus 3000 "$WORK/c.h5"
for n in 1 2 4; do
  mpibuild "$n" --corpus "$WORK/c.h5" --out "$WORK/idx$n" --shards 5 --progress-interval 0 2>"$WORK/log$n" \
    || { cat "$WORK/log$n" >&2; fail "build with $n ranks"; }
  grep -q "\[rank 0/$n\] progress: 5/5 shards, 3000/3000 docs (100.0%)" "$WORK/log$n" || fail "final progress line ($n ranks)"
  grep -Eq "\[rank 0/$n\] progress: [1-4]/5 shards, [0-9]+/3000 docs .* ETA [0-9.]+ s" "$WORK/log$n" \
    || fail "intermediate progress line with ETA ($n ranks)"
  grep -q "\"ranks\": $n," "$WORK/idx$n/manifest.json" || fail "manifest build.ranks ($n)"
  "$CLI" inspect --index "$WORK/idx$n" 2>&1 | grep -q '^verify      ok' || fail "inspect --index idx$n"
  "$CLI" search --index "$WORK/idx$n" --corpus "$WORK/c.h5" --k 10 --out "$WORK/run$n.tsv" 2>/dev/null || fail "search idx$n"
  [[ $(wc -l <"$WORK/run$n.tsv") -eq 400 ]] || fail "400 result lines (idx$n)"
done
# Round-robin assignment: with 4 ranks and 5 shards rank 0 builds shards 0 and 4, rank 3 builds shard 3.
grep -q '\[rank 0/4\] pid [0-9]* on .*: shards 0,4$' "$WORK/log4" || fail "rank 0/4 assignment"
grep -q '\[rank 3/4\] pid [0-9]* on .*: shards 3$' "$WORK/log4" || fail "rank 3/4 assignment"
for n in 2 4; do
  for f in "$WORK"/idx1/shard-*.h5; do
    cmp "$f" "$WORK/idx$n/$(basename "$f")" || fail "$(basename "$f") differs between 1 and $n ranks"
  done
  [[ $(ls "$WORK/idx$n" | wc -l) -eq 6 ]] || fail "idx$n holds exactly 5 shards and the manifest"
  diff <(strip_timings "$WORK/idx1/manifest.json") <(strip_timings "$WORK/idx$n/manifest.json") \
    || fail "manifests differ beyond timings (1 vs $n ranks)"
  cmp "$WORK/run1.tsv" "$WORK/run$n.tsv" || fail "search results differ (1 vs $n ranks)"
done
# Dense: HNSW (sparse + dense corpus) and IVF-PQ (dense-only corpus) shards are byte-identical for R = 1, 2, 4.
"$CLI" gen --docs 2000 --queries 30 --dense-dim 16 --seed 12 --out "$WORK/d.h5" 2>"$WORK/gen.log" || { cat "$WORK/gen.log" >&2; fail "gen dense"; }
for o in /docs/dense /queries/dense /docs/ids /queries/ids; do
  h5copy -p -i "$WORK/d.h5" -o "$WORK/donly.h5" -s "$o" -d "$o" || fail "h5copy $o"
done
for spec in "d.h5 hnsw" "donly.h5 ivf-pq"; do
  read -r corpus kind <<<"$spec"
  for n in 1 2 4; do
    out="$WORK/dense-$kind-$n"
    mpibuild "$n" --corpus "$WORK/$corpus" --out "$out" --shards 3 --dense-index "$kind" --nlist 8 --pq-m 4 \
      2>"$WORK/dlog$n" || { cat "$WORK/dlog$n" >&2; fail "dense $kind build with $n ranks"; }
    "$CLI" inspect --index "$out" 2>&1 | grep -q "dense     .* index $kind" || fail "inspect shows the $kind dense part ($n)"
    "$CLI" search --index "$out" --corpus "$WORK/$corpus" --mode dense --k 10 --out "$out.tsv" 2>/dev/null \
      || fail "dense search $kind ($n ranks)"
    [[ $(wc -l <"$out.tsv") -eq 300 ]] || fail "300 dense result lines ($kind, $n ranks)"
  done
  grep -q "\"type\": \"$kind\"" "$WORK/dense-$kind-1/manifest.json" || fail "manifest records the dense index type"
  for n in 2 4; do
    for f in "$WORK/dense-$kind-1"/shard-*.h5; do
      cmp "$f" "$WORK/dense-$kind-$n/$(basename "$f")" || fail "dense $kind $(basename "$f") differs between 1 and $n ranks"
    done
    cmp "$WORK/dense-$kind-1.tsv" "$WORK/dense-$kind-$n.tsv" || fail "dense $kind results differ (1 vs $n ranks)"
  done
done
# The sparse part of the sparse + dense index is unaffected: Seismic search still works on it.
"$CLI" search --index "$WORK/dense-hnsw-1" --corpus "$WORK/d.h5" --k 10 --out "$WORK/dsparse.tsv" 2>/dev/null || fail "sparse search of a sparse + dense index"
passed mpi_determinism
