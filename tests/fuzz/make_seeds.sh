#!/usr/bin/env bash
# Regenerates the committed seed corpora in tests/fuzz/corpus/<target>/ from real examples: request bodies as
# the API documents them, frames as the wire encoder lays them out, the first records of the shared real data
# sets (../shared/data) for the importers, and a tiny corpus and shard built by the tools themselves.
#   tests/fuzz/make_seeds.sh [BIN_DIR]   (default build/bin: aftershock and aftershock-build from a normal build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${1:-$ROOT/build/bin}"
DATA="$ROOT/../shared/data"
SEEDS="$ROOT/tests/fuzz/corpus"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
# Regression seeds (regress_*: inputs that once found a bug) are kept; everything else is made again.
mkdir -p "$SEEDS"
find "$SEEDS" -type f ! -name 'regress_*' -delete

python3 - "$SEEDS" "$DATA" "$ROOT/common/include/aftershock/common/wire/protocol.hpp" <<'PY'
import gzip, json, os, re, struct, sys, tarfile, io
seeds, data = sys.argv[1], sys.argv[2]
wire_version = int(re.search(r"kVersion = (\d+);", open(sys.argv[3]).read()).group(1))
def put(target, name, content):
    d = os.path.join(seeds, target); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f: f.write(content if isinstance(content, bytes) else content.encode())

# --- HTTP API bodies (DESIGN.md §7): sparse, dense, hybrid, tokens, text, knobs, batches, a few bad ones
bodies = {
 "sparse": {"k": 10, "sparse": {"indices": [1, 5, 9], "values": [0.5, 1.25, 2.0]}},
 "dense": {"k": 3, "dense": [0.1, -0.2, 0.3, 0.4], "params": {"ef_search": 64, "nprobe": 8}},
 "hybrid_rrf": {"k": 5, "sparse": {"indices": [2], "values": [1.0]}, "dense": [1, 0, 0, 0],
                "fusion": {"method": "rrf", "rank_constant": 60}, "candidates": 50},
 "hybrid_linear": {"sparse": {"indices": [3, 4], "values": [1, 2]}, "dense": [0, 1, 0, 0],
                   "fusion": {"method": "linear", "normalization": "zscore", "weights": {"sparse": 0.7, "dense": 0.3}}},
 "tokens": {"k": 10, "sparse": {"tokens": {"retrieval": 1.5, "##s": 0.5}}},
 "text": {"k": 10, "sparse": {"text": "Learned sparse retrieval of the dense vectors", "text_mode": "bm25"}},
 "knobs": {"k": 100, "sparse": {"indices": [0, 19], "values": [1, 1]}, "timeout_ms": 500, "min_coverage": 0.5,
           "exact": False, "params": {"query_cut": 10, "heap_factor": 0.9, "knn": 0, "first_sorted": True}},
}
for name, b in bodies.items(): put("fuzz_api", name + ".json", json.dumps(b))
put("fuzz_api", "batch.json", json.dumps({"queries": [bodies["sparse"], bodies["dense"], bodies["tokens"]]}))
put("fuzz_api", "bad_json.json", '{"k": 10, "sparse": {"indices": [1, 2], "values": [1')
put("fuzz_api", "bad_utf8.json", b'{"sparse": {"text": "\xff\xfe caf\xc3"}}')
put("fuzz_api", "deep.json", "[" * 40 + "]" * 40)

# --- wire frames (docs/PROTOCOL.md): header magic "AFSK", version (protocol.hpp's), type, request id, length, reserved
def frame(mtype, payload, rid=42):
    return struct.pack("<IHHQII", 0x4B534641, wire_version, mtype, rid, len(payload), 0) + payload
def arr(fmt, v): return struct.pack("<I", len(v)) + struct.pack("<%d%s" % (len(v), fmt), *v)
def s(x): b = x.encode(); return struct.pack("<I", len(b)) + b
# search_request: shard, route, exact, k, timeout_ms, knob flags (bit i: knob i given), query_cut, heap_factor, knn,
# first_sorted, ef_search, nprobe, n_queries, queries
sparse_req = struct.pack("<IBBIIBIfIBII", 3, 0, 0, 10, 250, 0x0F, 5, 0.9, 0, 1, 0, 0) + struct.pack("<I", 2) \
    + arr("I", [1, 7]) + arr("f", [0.5, 1.5]) + arr("I", [4]) + arr("f", [2.0])
dense_req = struct.pack("<IBBIIBIfIBII", 0, 1, 1, 5, 0, 0x30, 0, 0.0, 0, 0, 64, 8) + struct.pack("<I", 1) + arr("f", [0.1, 0.2, 0.3, 0.4])
put("fuzz_wire", "search_request_sparse.bin", frame(5, sparse_req))
put("fuzz_wire", "search_request_dense.bin", frame(5, dense_req))
resp = struct.pack("<IQQQQ", 1, 12345, 100, 10, 50) + struct.pack("<I", 2) \
    + struct.pack("<IB", 2, 1) + struct.pack("<Qf", 17, 3.5) + s("doc-17") + struct.pack("<Qf", 4, 1.25) + s("doc-4") \
    + struct.pack("<IB", 1, 0) + struct.pack("<Qf", 9, 0.5)
put("fuzz_wire", "search_response.bin", frame(6, resp))
put("fuzz_wire", "error_response.bin", frame(7, struct.pack("<H", 2) + s("unknown shard 9")))
put("fuzz_wire", "health_response.bin", frame(2, struct.pack("<BIQ", 1, 4, 3)))
put("fuzz_wire", "info_response.bin", frame(4, s('{"shards":[{"shard":0,"docs":100}]}')))
put("fuzz_wire", "health_request.bin", frame(1, b""))
put("fuzz_wire", "info_request.bin", frame(3, b""))

# --- importers: the first records of the shared real data sets, cut short
def head_lines(path, n, maxlen=None, opener=open):
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        out = []
        for _ in range(n):
            line = f.readline()
            if not line: break
            out.append(line)
        return "".join(out)
# jsonl: Seismic's toy SPLADE docs with their vectors cut to 8 terms; dense Anserini topics cut to 4 dims
rows = []
with open(os.path.join(data, "seismic_toy_splade/documents.jsonl")) as f:
    for _ in range(3):
        r = json.loads(f.readline()); r["vector"] = dict(list(r["vector"].items())[:8]); r.pop("content", None); rows.append(r)
put("fuzz_import_jsonl", "splade_docs.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
rows = []
with open(os.path.join(data, "anserini_dense_samples/cosdpr-distil.topics.jsonl")) as f:
    for line in f.readlines()[:2]:
        r = json.loads(line); r["vector"] = r["vector"][:4]; rows.append(r)
put("fuzz_import_jsonl", "dense_topics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
# tsv-tokens: Anserini token-repeat lines (built from the same docs: weight*1000 repeats, capped)
lines = []
with open(os.path.join(data, "seismic_toy_splade/documents.jsonl")) as f:
    for _ in range(3):
        r = json.loads(f.readline())
        toks = []
        for t, w in list(r["vector"].items())[:6]: toks += [t] * max(1, min(3, int(w * 3)))
        lines.append(f'{r["id"]}\t{" ".join(toks)}\n')
put("fuzz_import_tsv_tokens", "splade_docs.tsv", "".join(lines))
# tsv-dense: NGT's SIFT TSV (data rows end with an id column; query rows do not), cut to 8 dims
def cut_tsv(path, n, dims):
    out = []
    for line in head_lines(path, n).splitlines():
        out.append("\t".join(line.split("\t")[:dims]) + "\n")
    return "".join(out)
put("fuzz_import_tsv_dense", "sift_queries.tsv", cut_tsv(os.path.join(data, "ngt_sift5k/sift-query-3.tsv"), 3, 8))
put("fuzz_import_tsv_dense", "ids.tsv", "a\t1.5\t2\t-3\nb\t0\t0.25\t1e-3\n")
# bigann-csr: int64 nrow, ncol, nnz; int64 indptr[nrow+1]; int32 indices[nnz]; f32 data[nnz]
indptr, idx, val = [0, 2, 3, 5], [1, 4, 0, 2, 6], [0.5, 1.0, 2.0, 0.25, 3.0]
put("fuzz_import_bigann_csr", "three_rows.csr", struct.pack("<qqq", 3, 8, 5) + struct.pack("<4q", *indptr)
    + struct.pack("<5i", *idx) + struct.pack("<5f", *val))
# seismic-bin: u32 n_vecs; per vector u32 n, u32 components[n], f32 values[n]
put("fuzz_import_seismic_bin", "three_vectors.bin", struct.pack("<I", 3) + struct.pack("<I2I2f", 2, 1, 5, 0.5, 1.5)
    + struct.pack("<I1I1f", 1, 3, 2.0) + struct.pack("<I3I3f", 3, 0, 2, 7, 1, 1, 1))
# fvecs: per vector i32 d, f32[d] (the SIFT query rows, 4 dims)
vecs = [[float(x) for x in l.split("\t")[:4]] for l in head_lines(os.path.join(data, "ngt_sift5k/sift-query-3.tsv"), 3).splitlines()]
put("fuzz_import_fvecs", "sift.fvecs", b"".join(struct.pack("<i4f", 4, *v) for v in vecs))
# text: one seed per layout (Cranfield, TREC topics, JSONL, TSV, tar.gz of CACM HTML)
cran = head_lines(os.path.join(data, "cranfield/cran.all.1400"), 60)
cut = cran.find(".I 3"); put("fuzz_import_text", "cranfield.txt", cran[:cut if cut > 0 else len(cran)])
topics = head_lines(os.path.join(data, "cacm/topics.cacm.txt"), 40)
put("fuzz_import_text", "trec_topics.txt", topics[:topics.find("</DOC>", topics.find("</DOC>") + 1) + 7])
put("fuzz_import_text", "collection.jsonl", '{"id": "d1", "contents": "the flow of a boundary layer"}\n{"id": "d2", "contents": "computer programs"}\n')
put("fuzz_import_text", "collection.tsv", "q1\tboundary layer flow\nq2\tcomputer systems\n")
buf = io.BytesIO()
with tarfile.open(os.path.join(data, "cacm/cacm.tar.gz")) as src, tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.USTAR_FORMAT) as dst:
    n = 0
    for m in src:
        if m.isfile() and m.name.endswith(".html"):
            content = src.extractfile(m).read()[:400]
            ti = tarfile.TarInfo(m.name); ti.size = len(content); ti.mtime = 0
            dst.addfile(ti, io.BytesIO(content)); n += 1
            if n == 2: break
put("fuzz_import_text", "cacm_two.tar.gz", buf.getvalue())
PY

# --- HDF5 inputs made by the tools: a corpus (sparse + ids + vocab, dense), shards built from it, and an
#     ann-benchmarks file (HDF5 with /train, /test, /neighbors, /distances written by h5import)
"$BIN/aftershock" --log-level warn import --format jsonl --docs "$SEEDS/fuzz_import_jsonl/splade_docs.jsonl" \
  --out "$TMP/sparse.h5"
"$BIN/aftershock" --log-level warn import --format tsv-dense --docs "$SEEDS/fuzz_import_tsv_dense/ids.tsv" \
  --out "$TMP/dense.h5"
mkdir -p "$SEEDS/fuzz_corpus" "$SEEDS/fuzz_shard"
cp "$TMP/sparse.h5" "$SEEDS/fuzz_corpus/sparse.h5"
cp "$TMP/dense.h5" "$SEEDS/fuzz_corpus/dense.h5"
"$BIN/aftershock-build" --log-level warn --corpus "$TMP/sparse.h5" --out "$TMP/idx-sparse" --shards 1 --threads 1 >/dev/null
cp "$TMP/idx-sparse/shard-00000.h5" "$SEEDS/fuzz_shard/sparse.h5"
"$BIN/aftershock-build" --log-level warn --corpus "$TMP/dense.h5" --out "$TMP/idx-dense" --shards 1 --threads 1 --dense-index flat >/dev/null
cp "$TMP/idx-dense/shard-00000.h5" "$SEEDS/fuzz_shard/dense.h5"
( cd "$TMP"
  printf '1 0 0\n0 1 0\n0 0 1\n1 1 0\n' > train.txt; printf '1 0.5 0\n0 0 2\n' > test.txt
  printf '0 3\n2 1\n' > nb.txt; printf '0.1 0.25\n0 1\n' > dist.txt
  for spec in "train.txt train FP 4,3" "test.txt test FP 2,3" "nb.txt neighbors IN 2,2" "dist.txt distances FP 2,2"; do
    set -- $spec
    printf 'PATH %s\nINPUT-CLASS TEXT%s\nINPUT-SIZE 32\nRANK 2\nDIMENSION-SIZES %s\n' "$2" "$3" "${4//,/ }" > "$2.cfg"
    h5import "$1" -c "$2.cfg" -o ann.hdf5
  done )
mkdir -p "$SEEDS/fuzz_import_ann_benchmarks"
cp "$TMP/ann.hdf5" "$SEEDS/fuzz_import_ann_benchmarks/no_distance_attr.hdf5"
# The writers' chunked layout preallocates whole chunks (MBs for 3 rows); the seeds are repacked contiguous
# (same content, same shard checksum: it covers values, not layout) plus one with tiny chunks.
# Shards keep the 1.10 file format (-L: superblock 3, checksummed metadata), which their reader requires.
for f in "$SEEDS"/fuzz_corpus/{sparse,dense}.h5; do h5repack -l CONTI "$f" "$TMP/rp.h5"; mv "$TMP/rp.h5" "$f"; done
for f in "$SEEDS"/fuzz_shard/{sparse,dense}.h5; do h5repack -L -l CONTI "$f" "$TMP/rp.h5"; mv "$TMP/rp.h5" "$f"; done
h5repack -l CHUNK=4 "$SEEDS/fuzz_corpus/sparse.h5" "$SEEDS/fuzz_corpus/sparse_chunked.h5"
for kind in sparse dense; do  # the repacked shards hold the same data
  h5diff "$TMP/idx-$kind/shard-00000.h5" "$SEEDS/fuzz_shard/$kind.h5"
done
"$BIN/aftershock" --log-level warn inspect --corpus "$SEEDS/fuzz_corpus/sparse_chunked.h5" --verify >/dev/null
du -sh "$SEEDS"; find "$SEEDS" -type f | wc -l
