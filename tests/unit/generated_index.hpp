#pragma once
// Unit-test helper: a generated corpus built into an index directory in-process, as aftershock-build would.
#include "aftershock/common/generator.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/index_dir.hpp"
#include "aftershock/worker/shard_builder.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace aftershock::test {

/// Builds opt.corpus into `shards` shards (opt.n_shards is set to it) under opt.out_dir (created) with opt's
/// parameters and writes the manifest; returns opt.out_dir.
inline std::string build_generated_index(worker::ShardBuildOptions opt, std::uint32_t shards) {
    opt.n_shards = shards;
    std::filesystem::create_directories(opt.out_dir);
    const h5::File f(opt.corpus, h5::File::Mode::read);
    const auto bounds = plan_shards(f, shards);
    std::vector<ShardRecord> records;
    for (std::uint32_t s = 0; s < shards; ++s) records.push_back(worker::build_shard(opt, s, bounds[s], bounds[s + 1]));
    write_manifest(opt.out_dir, worker::make_manifest(opt, records, bounds.back(), 30522,
                                                      worker::build_params_json(opt, true, true), "{}"));
    return opt.out_dir;
}

/// Generates `g` into dir/c.h5 and builds it as above under dir/idx (opt's corpus and out_dir are set here); returns
/// the index directory.
inline std::string generate_and_build_index(const ScratchDir& dir, const GeneratorOptions& g,
                                            worker::ShardBuildOptions opt, std::uint32_t shards) {
    opt.corpus = dir.file("c.h5");
    opt.out_dir = dir.file("idx");
    (void)generate_corpus(g, opt.corpus);
    return build_generated_index(std::move(opt), shards);
}

}  // namespace aftershock::test
