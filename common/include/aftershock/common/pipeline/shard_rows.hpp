#pragma once
// What a shard contributes to the pipelines besides searches: exact dense scores of given documents and the
// stored sparse / dense vectors of given documents. One definition used by the worker (over the wire) and by
// LocalIndex (aftershock search), so both give the same bits.
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/pipeline/pipeline.hpp"

namespace aftershock::pipeline {

/// The forward-index vector of local document `row` (components ascending, values as stored: f16 -> f32).
/// Throws InputError when the shard has no sparse part.
[[nodiscard]] SparseVector sparse_row(const Shard& shard, std::size_t row);

/// Exact dense score of local document `row` against `query` (dense_score over the stored vector).
/// Throws InputError when the shard has no dense part or the dimension differs.
[[nodiscard]] float score_row(const Shard& shard, std::span<const float> query, std::size_t row);

/// Runs a pipeline query on a LocalIndex (every shard in this process): searches are LocalIndex searches of one
/// query (the per-query code path the workers use), scores and rows come from the owning shards. `exact`: the
/// searches are brute force over the shards (forward index, stored vectors), as a worker's exact searches.
[[nodiscard]] std::vector<GlobalHit> run_local(const LocalIndex& index, PipelineQuery query,
                                               const seismic::SearchParams& sparse, const dense::SearchParams& dense,
                                               bool exact = false);

}  // namespace aftershock::pipeline
