#pragma once
// What the Seismic A/B drivers measure on: a shard (AFTERSHOCK_AB_SHARD) and the first 500 queries of a corpus
// (AFTERSHOCK_AB_CORPUS), named in the environment so that Google Benchmark's own flags stay untouched.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/shard_file.hpp"

#include <algorithm>
#include <cstdlib>

namespace aftershock::ab {

inline constexpr std::size_t kQueries = 500;

inline const char* input(const char* name) {
    const char* v = std::getenv(name);
    ensure(v != nullptr, "set AFTERSHOCK_AB_SHARD and AFTERSHOCK_AB_CORPUS");
    return v;
}

/// The shard, which must hold a sparse index, prepared for queries as a worker prepares it (huge pages unless
/// AFTERSHOCK_HUGE_PAGES=0).
inline Shard read_ab_shard() {
    auto s = read_shard(input("AFTERSHOCK_AB_SHARD"));
    ensure(s.sparse.has_value(), "{}: no sparse index", input("AFTERSHOCK_AB_SHARD"));
    s.sparse->prepare_for_queries();
    return s;
}

/// The corpus' first kQueries sparse queries (fewer if it has fewer).
inline CsrMatrix read_ab_queries() {
    const h5::File f(input("AFTERSHOCK_AB_CORPUS"), h5::File::Mode::read);
    return read_sparse_rows(f, Side::queries, 0, std::min<std::uint64_t>(describe_corpus(f).n_queries, kQueries));
}

}  // namespace aftershock::ab
