#!/usr/bin/env bash
# Corrupt input: a truncated corpus file gives a non-zero exit and one clear error line naming the file; a
# corpus with a bad row (a NaN written with dd into /docs/sparse/data) gives an error naming the rank, the
# shard, the dataset and the row. No manifest either time.
source "$(dirname "$0")/lib.sh" "$@"

gen_corpus 2000 "$WORK/c.h5"

# 1. Truncated file (cut in half: the header survives, half the data does not).
head -c $(($(stat -c %s "$WORK/c.h5") / 2)) "$WORK/c.h5" >"$WORK/trunc.h5"
rc=0
mpibuild 2 --corpus "$WORK/trunc.h5" --out "$WORK/idx_t" --shards 4 2>"$WORK/trunc.log" || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat "$WORK/trunc.log" >&2; fail "truncated corpus: exit code $rc"; }
errors=$(grep -c '\[error\]' "$WORK/trunc.log" || true)
[[ $errors -eq 1 ]] || { cat "$WORK/trunc.log" >&2; fail "expected one error line, got $errors"; }
grep '\[error\]' "$WORK/trunc.log" | grep -q "trunc.h5" || { cat "$WORK/trunc.log" >&2; fail "error does not name the file"; }
[[ ! -e "$WORK/idx_t/manifest.json" ]] || fail "manifest for a truncated corpus"

# 2. A bad row: overwrite the first value of row ROW in /docs/sparse/data with a NaN, in place. The dataset
#    is stored without filters, so its raw bytes are in the file as they are: find the 16 bytes of the
#    row's first four values (dumped by h5dump -b) in the file, and write the NaN there with dd.
ROW=1500
cp "$WORK/c.h5" "$WORK/bad.h5"
k=$(h5dump -y -d /docs/sparse/indptr -s $ROW -c 1 "$WORK/bad.h5" | awk '/DATA \{/{getline; gsub(/[ ,]/, ""); print; exit}')
[[ $k =~ ^[0-9]+$ ]] || fail "could not read indptr[$ROW] (got '$k')"
h5dump -d /docs/sparse/data -s "$k" -c 4 -b LE -o "$WORK/vals.bin" "$WORK/bad.h5" >/dev/null
[[ $(stat -c %s "$WORK/vals.bin") -eq 16 ]] || fail "h5dump -b did not write 16 bytes"
# (perl-base is essential on Debian; grep cannot search for bytes that may include a newline.)
offsets=$(perl -e 'local $/; open(my $p, "<:raw", $ARGV[0]) or die; my $pat = <$p>;
  open(my $f, "<:raw", $ARGV[1]) or die; my $d = <$f>; my ($i, @o) = (-1);
  push @o, $i while ($i = index($d, $pat, $i + 1)) >= 0; print "@o\n"' "$WORK/vals.bin" "$WORK/bad.h5")
[[ $(wc -w <<<"$offsets") -eq 1 ]] || fail "the row's bytes are not unique in the file (offsets: $offsets)"
printf '\x00\x00\xc0\x7f' | dd of="$WORK/bad.h5" bs=1 seek="$offsets" conv=notrunc status=none
h5dump -y -d /docs/sparse/data -s "$k" -c 1 "$WORK/bad.h5" | grep -qi nan || fail "the NaN did not land in /docs/sparse/data[$k]"

rc=0
mpibuild 2 --corpus "$WORK/bad.h5" --out "$WORK/idx_b" --shards 4 2>"$WORK/bad.log" || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat "$WORK/bad.log" >&2; fail "bad row: exit code $rc"; }
line=$(grep -E '\[rank 0/2\] .*rank [01] failed: shard [0-3] \(docs \[[0-9]+, [0-9]+\)\): .*bad\.h5:/docs/sparse/data row '$ROW': non-finite' "$WORK/bad.log" || true)
[[ -n "$line" ]] || { cat "$WORK/bad.log" >&2; fail "error does not name rank, shard, dataset and row"; }
# The named rank, shard and range agree: rank = shard mod 2, and the shard's range holds the row.
read -r r s b e < <(sed -E 's/.*rank ([01]) failed: shard ([0-9]+) \(docs \[([0-9]+), ([0-9]+)\).*/\1 \2 \3 \4/' <<<"$line")
[[ $r -eq $((s % 2)) && $b -le $ROW && $ROW -lt $e ]] || fail "inconsistent report: $line"
[[ ! -e "$WORK/idx_b/manifest.json" ]] || fail "manifest for a corpus with a bad row"
no_tmp_files "$WORK/idx_b" || fail "*.tmp left after a bad row"
passed mpi_corrupt
