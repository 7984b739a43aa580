// aftershock-build: MPI index build. Rank r builds shards r, r+R, r+2R, ... of S (S independent of R);
// rank 0 plans the shard ranges, collects every rank's records and writes manifest.json last. Any rank's
// failure makes every rank exit non-zero, with the failing rank and cause logged, and no manifest.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/worker/shard_builder.hpp"

#include <CLI/CLI.hpp>
#include <mpi.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace aftershock;

/// Rank 0 receives one string from every rank.
std::vector<std::string> gather_strings(const std::string& mine, int rank, int size) {
    int len = static_cast<int>(mine.size());
    std::vector<int> lens(static_cast<std::size_t>(size));
    MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::vector<int> displs(static_cast<std::size_t>(size), 0);
    std::string all;
    if (rank == 0) {
        for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
        all.resize(static_cast<std::size_t>(displs.back() + lens.back()));
    }
    MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
    std::vector<std::string> out;
    if (rank == 0) {
        for (int r = 0; r < size; ++r) out.push_back(all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(lens[r])));
    }
    return out;
}

/// Cores per rank on this node, so R ranks on one machine do not oversubscribe it.
unsigned threads_per_rank() {
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    int local_size = 1;
    MPI_Comm_size(local, &local_size);
    MPI_Comm_free(&local);
    return std::max(1U, std::thread::hardware_concurrency() / static_cast<unsigned>(local_size));
}

struct Options {
    worker::ShardBuildOptions build;
    std::string lambda_pruning = "global-threshold";
    std::string clustering = "ii-approx";
    bool no_resume = false;
};

int run(Options& o, int rank, int size) {
    const auto start = std::chrono::steady_clock::now();
    o.build.params.pruning = seismic::parse_pruning(o.lambda_pruning);
    o.build.params.clustering = seismic::parse_clustering(o.clustering);
    o.build.resume = !o.no_resume;
    if (o.build.params.threads == 0) o.build.params.threads = threads_per_rank();
    // Rank 0 plans; everyone learns the plan or the reason there is none.
    std::vector<std::uint64_t> bounds(o.build.n_shards + 1, 0);
    std::uint64_t facts[2] = {0, 0};  // n_docs, dim
    std::string plan_error;
    if (rank == 0) {
        try {
            seismic::validate(o.build.params);
            ensure<UsageError>(o.build.n_shards > 0, "--shards must be positive");
            const h5::File corpus(o.build.corpus, h5::File::Mode::read);
            const auto info = describe_corpus(corpus);
            ensure<InputError>(info.docs_sparse, "{}: the corpus has no sparse documents to index", o.build.corpus);
            bounds = plan_shards(corpus, o.build.n_shards);
            facts[0] = info.n_docs;
            facts[1] = info.dim;
            std::filesystem::create_directories(o.build.out_dir);
            std::filesystem::remove(std::filesystem::path(o.build.out_dir) / "manifest.json");  // stale until we finish
        } catch (const std::exception& e) {
            plan_error = e.what();
        }
    }
    int planned = plan_error.empty() ? 1 : 0;
    MPI_Bcast(&planned, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (planned == 0) {
        if (rank == 0) spdlog::error("rank 0: {}", plan_error);
        return 1;
    }
    MPI_Bcast(bounds.data(), static_cast<int>(bounds.size()), MPI_UINT64_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(facts, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const double plan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::vector<ShardRecord> records;
    worker::ShardTimings total;
    std::string failure;
    try {
        for (auto s = static_cast<std::uint32_t>(rank); s < o.build.n_shards; s += static_cast<std::uint32_t>(size)) {
            worker::ShardTimings t;
            records.push_back(worker::build_shard(o.build, s, bounds[s], bounds[s + 1], &t));
            total.read += t.read;
            total.build += t.build;
            total.write += t.write;
        }
    } catch (const std::exception& e) {
        failure = e.what();
        spdlog::error("{}", failure);
    }
    const auto message = failure.empty()
                             ? fmt::format(R"({{"ok":true,"records":{},"read":{:.3f},"build":{:.3f},"write":{:.3f}}})",
                                           records_to_json(records), total.read, total.build, total.write)
                             : fmt::format("FAILED {}", failure);
    const auto all = gather_strings(message, rank, size);
    int rc = 0;
    if (rank == 0) {
        std::vector<ShardRecord> merged;
        double read = 0, build = 0, write = 0;
        for (int r = 0; r < size; ++r) {
            if (all[r].rfind("FAILED ", 0) == 0) {
                spdlog::error("rank {} failed: {}", r, all[r].substr(7));
                rc = 1;
                continue;
            }
            const auto j = nlohmann::json::parse(all[r]);
            for (auto& rec : records_from_json(j["records"].dump(), fmt::format("rank {}", r))) merged.push_back(rec);
            read = std::max(read, j["read"].get<double>());
            build = std::max(build, j["build"].get<double>());
            write = std::max(write, j["write"].get<double>());
        }
        if (rc == 0) {
            const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const auto stats = fmt::format(
                R"({{"ranks":{},"wall_seconds":{:.3f},"phases":{{"plan":{:.3f},"read":{:.3f},"build":{:.3f},"write":{:.3f}}}}})",
                size, wall, plan_seconds, read, build, write);
            const auto m = worker::make_manifest(o.build, std::move(merged), facts[0], facts[1], stats);
            write_manifest(o.build.out_dir, m);
            spdlog::info("index {}: {} shards, {} docs, {:.1f} s with {} ranks", o.build.out_dir, m.n_shards, m.n_docs, wall, size);
        } else {
            spdlog::error("build failed: no manifest written to {}", o.build.out_dir);
        }
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    int size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    spdlog::set_default_logger(spdlog::stderr_color_mt("build"));
    spdlog::set_pattern(fmt::format("[%H:%M:%S.%e] [%^%l%$] [rank {}/{}] %v", rank, size));

    Options o;
    CLI::App app{"aftershock-build: build a sharded Seismic index from a corpus (run under mpirun or srun)"};
    app.set_version_flag("--version", std::string("aftershock-build ") + AFTERSHOCK_VERSION);
    app.set_config("--config", "", "read flags from an INI/TOML file");
    auto& p = o.build.params;
    app.add_option("--corpus", o.build.corpus, "corpus HDF5 file")->required()->check(CLI::ExistingFile);
    app.add_option("--out", o.build.out_dir, "index directory")->required();
    app.add_option("--shards", o.build.n_shards, "number of shards (independent of the rank count)")->capture_default_str();
    app.add_option("--lambda", p.lambda, "n_postings: average kept postings per list")->capture_default_str();
    app.add_option("--max-fraction", p.max_fraction, "list cap = lambda * max_fraction")->capture_default_str();
    app.add_option("--pruning", o.lambda_pruning, "global-threshold | fixed-size")->capture_default_str();
    app.add_option("--centroid-fraction", p.centroid_fraction, "blocks per list / list length")->capture_default_str();
    app.add_option("--min-cluster-size", p.min_cluster_size, "dissolve clusters this small")->capture_default_str();
    app.add_option("--clustering", o.clustering, "exact | ii-approx")->capture_default_str();
    app.add_option("--doc-cut", p.doc_cut, "components per doc in ii-approx clustering")->capture_default_str();
    app.add_option("--alpha", p.alpha, "summary energy (fraction of L1 mass kept)")->capture_default_str();
    app.add_option("--knn", p.knn, "kappa: neighbours per document in the kNN graph (0 = none)")->capture_default_str();
    app.add_option("--seed", p.seed, "clustering seed")->capture_default_str();
    app.add_option("--threads", p.threads, "threads per rank (0 = cores / local ranks)")->capture_default_str();
    app.add_flag("--no-resume", o.no_resume, "rebuild shards even when a verified one exists");
    app.add_option_function<std::string>(
           "--log-level", [](const std::string& l) { spdlog::set_level(spdlog::level::from_str(l)); }, "log level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    int rc = 0;
    try {
        app.parse(argc, argv);
        rc = run(o, rank, size);
    } catch (const CLI::ParseError& e) {
        rc = rank == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 1);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        rc = 1;
    }
    MPI_Finalize();
    return rc;
}
