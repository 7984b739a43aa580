// aftershock-build: MPI index build. Rank r builds shards r, r+R, r+2R, ... of S (S independent of R);
// rank 0 plans the shard ranges, collects every rank's records and writes manifest.json last. Any rank's
// failure makes every rank exit non-zero, with the failing rank and cause logged, and no manifest.
//
// Messages during the build phase (all point-to-point, so no rank ever waits in a collective for a slow one):
//  - every rank r > 0 sends rank 0 one kTagProgress message per finished shard and one when it stops
//    (finished, failed or aborted), with MPI_Isend; rank 0 aggregates them with its own shards into the
//    progress lines (docs and shards done across ranks, rate, ETA) in a monitor thread;
//  - when a rank fails, rank 0 sends every other rank one kTagAbort message; ranks test for it (a receive
//    posted at the start) before each shard and stop early (the shards they finished stay on disk and a re-run resumes them).
// The monitor thread is the only thread making MPI calls while it runs (MPI_THREAD_SERIALIZED); where the
// library offers less, rank 0 polls between its own shards instead.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/text/text_stats.hpp"
#include "aftershock/worker/progress.hpp"
#include "aftershock/worker/pushgateway.hpp"

#include <prometheus/gauge.h>
#include "aftershock/worker/shard_builder.hpp"

#include <CLI/CLI.hpp>
#include <mpi.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace aftershock;
using Clock = std::chrono::steady_clock;

constexpr int kTagProgress = 7001;
constexpr int kTagAbort = 7002;

/// One progress message: kind, shard, docs, nnz, resumed, microseconds.
using Wire = std::array<std::uint64_t, 6>;
enum Kind : std::uint64_t { kShardDone = 0, kRankFinished = 1, kRankFailed = 2, kRankAborted = 3 };

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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
    std::string dense_index = "auto";
    bool no_resume = false;
    double progress_interval = 10.0;  ///< seconds between progress lines (0: one per finished shard)
    std::string pushgateway;           ///< host:port, empty for none
    std::string pushgateway_job = "aftershock_build";
};

/// Rank 0's view of the build phase: its own shards (reported by its main thread) and the other ranks'
/// messages (received by step()). Thread-safe between the main thread and the monitor.
class Monitor {
public:
    Monitor(int size, std::uint32_t shards, std::uint64_t docs, double interval)
        : m_size(size), m_tracker(shards, docs), m_interval(interval), m_last_print(Clock::now()) {}

    // --- called by rank 0's main thread
    void local_shard(const worker::ShardProgress& p) {
        const std::lock_guard lock(m_mutex);
        m_tracker.add(p);
        m_changed = true;
    }
    void local_done(bool failed) {
        if (failed) m_failure_seen = true;
        m_local_done = true;
    }
    [[nodiscard]] bool abort_requested() const noexcept { return m_failure_seen.load(); }

    // --- called by whoever drives MPI on rank 0 (the monitor thread, or the main thread without one)
    /// Receives what has arrived, sends the abort on the first failure, prints when due. True when every
    /// rank has stopped and every message is in.
    bool step() {
        if (m_size > 1) {
            for (;;) {
                int flag = 0;
                MPI_Status status;
                MPI_Iprobe(MPI_ANY_SOURCE, kTagProgress, MPI_COMM_WORLD, &flag, &status);
                if (flag == 0) break;
                Wire w{};
                MPI_Recv(w.data(), static_cast<int>(w.size()), MPI_UINT64_T, status.MPI_SOURCE, kTagProgress,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                handle(w);
            }
        }
        if (m_failure_seen && !m_abort_sent) send_abort();
        const bool done = m_local_done && m_remote_done == m_size - 1;
        maybe_print(done);
        return done;
    }
    void run_until_done() {
        while (!step()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    /// Completes the abort sends (after every rank has learned, by broadcast, to receive them).
    void finish_abort() {
        if (!m_abort_requests.empty()) MPI_Waitall(static_cast<int>(m_abort_requests.size()), m_abort_requests.data(), MPI_STATUSES_IGNORE);
    }
    [[nodiscard]] bool abort_sent() const noexcept { return m_abort_sent; }
    [[nodiscard]] std::uint32_t shards_resumed() {
        const std::lock_guard lock(m_mutex);
        return m_tracker.shards_resumed();
    }

private:
    void handle(const Wire& w) {
        switch (w[0]) {
            case kShardDone: {
                const std::lock_guard lock(m_mutex);
                m_tracker.add({static_cast<std::uint32_t>(w[1]), w[2], w[3], w[4] != 0, static_cast<double>(w[5]) / 1e6});
                m_changed = true;
                break;
            }
            case kRankFailed:
                m_failure_seen = true;
                ++m_remote_done;
                break;
            default:  // finished or aborted
                ++m_remote_done;
                break;
        }
    }
    void send_abort() {
        m_abort_sent = true;
        static const char none = 0;
        for (int r = 1; r < m_size; ++r) {
            MPI_Request req;
            MPI_Isend(&none, 0, MPI_BYTE, r, kTagAbort, MPI_COMM_WORLD, &req);
            m_abort_requests.push_back(req);
        }
        spdlog::warn("a rank failed: telling the other ranks to stop after their current shard");
    }
    void maybe_print(bool done) {
        const std::lock_guard lock(m_mutex);
        const auto now = Clock::now();
        const double since = std::chrono::duration<double>(now - m_last_print).count();
        const bool due = m_interval <= 0.0 ? m_changed : since >= m_interval;
        if (due || (done && m_changed)) {
            spdlog::info("{}", m_tracker.line(now));
            m_last_print = now;
            m_changed = false;
        }
    }

    int m_size;
    std::mutex m_mutex;
    worker::ProgressTracker m_tracker;
    double m_interval;
    Clock::time_point m_last_print;
    bool m_changed = false;
    std::atomic<bool> m_local_done{false};
    std::atomic<bool> m_failure_seen{false};
    int m_remote_done = 0;
    bool m_abort_sent = false;
    std::vector<MPI_Request> m_abort_requests;
};

/// Removes what a killed earlier run may have left: temporary shard/manifest files and the manifest itself
/// (stale until this build finishes).
void clean_out_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(dir)) {
        const auto name = e.path().filename().string();
        const bool tmp = name.size() > 4 && name.ends_with(".tmp") && (name.starts_with("shard-") || name.starts_with("manifest.json"));
        if (tmp) {
            spdlog::info("removing {} left by an interrupted build", e.path().string());
            fs::remove(e.path());
        }
    }
    fs::remove(fs::path(dir) / "manifest.json");
}

struct BuildTotals {
    bool ok = false;
    std::uint64_t docs = 0;
    std::uint64_t nnz = 0;
    std::uint64_t bytes = 0;
    std::uint32_t shards = 0;
    std::uint32_t resumed = 0;
    double wall = 0, plan = 0, read = 0, build = 0, write = 0;
};

std::shared_ptr<prometheus::Registry> build_metrics(const BuildTotals& t, int ranks) {
    auto registry = std::make_shared<prometheus::Registry>();
    const auto gauge = [&](const char* name, const char* help, double v, const prometheus::Labels& labels = {}) {
        prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add(labels).Set(v);
    };
    gauge("aftershock_build_success", "1 if the last build wrote its manifest, 0 if it failed", t.ok ? 1 : 0);
    gauge("aftershock_build_ranks", "MPI ranks of the last build", ranks);
    gauge("aftershock_build_wall_seconds", "wall time of the last build", t.wall);
    auto& phases = prometheus::BuildGauge()
                       .Name("aftershock_build_phase_seconds")
                       .Help("slowest rank's seconds per phase of the last build")
                       .Register(*registry);
    phases.Add({{"phase", "plan"}}).Set(t.plan);
    phases.Add({{"phase", "read"}}).Set(t.read);
    phases.Add({{"phase", "build"}}).Set(t.build);
    phases.Add({{"phase", "write"}}).Set(t.write);
    gauge("aftershock_build_documents", "documents in the finished shards", static_cast<double>(t.docs));
    gauge("aftershock_build_nonzeros", "forward-index nonzeros in the finished shards", static_cast<double>(t.nnz));
    gauge("aftershock_build_shards", "finished shards", t.shards);
    gauge("aftershock_build_shards_resumed", "shards kept from an earlier run", t.resumed);
    gauge("aftershock_build_bytes", "bytes of the finished shard files", static_cast<double>(t.bytes));
    gauge("aftershock_build_last_completion_timestamp_seconds", "unix time the last build ended",
          static_cast<double>(std::time(nullptr)));
    return registry;
}

void push_build_metrics(const Options& o, const BuildTotals& t, int ranks) {
    if (o.pushgateway.empty()) return;
    try {
        auto target = worker::parse_push_target(o.pushgateway);
        target.job = o.pushgateway_job;
        target.grouping.emplace_back("index", std::filesystem::path(o.build.out_dir).lexically_normal().filename().string());
        worker::push_metrics(target, build_metrics(t, ranks));
        spdlog::info("pushed build metrics to {}{}", o.pushgateway, worker::push_path(target));
    } catch (const std::exception& e) {
        spdlog::warn("could not push build metrics (the build itself is unaffected): {}", e.what());
    }
}

/// Rank 0: merges every rank's records (or reports its failure), writes the manifest last, pushes metrics.
/// Returns the exit code.
int collect(const Options& o, const std::vector<std::string>& all, const std::uint64_t facts[4], double plan_seconds,
            Clock::time_point start, int size) {
    int rc = 0;
    std::vector<ShardRecord> merged;
    BuildTotals t;
    t.plan = plan_seconds;
    for (int r = 0; r < size; ++r) {
        if (all[r].rfind("FAILED ", 0) == 0) {
            spdlog::error("rank {} failed: {}", r, all[r].substr(7));
            rc = 1;
            continue;
        }
        if (all[r].rfind("STOPPED ", 0) == 0) {
            spdlog::warn("rank {} stopped early: {}", r, all[r].substr(8));
            rc = 1;
            continue;
        }
        const auto j = nlohmann::json::parse(all[r]);
        for (auto& rec : records_from_json(j["records"].dump(), fmt::format("rank {}", r))) merged.push_back(rec);
        t.read = std::max(t.read, j["read"].get<double>());
        t.build = std::max(t.build, j["build"].get<double>());
        t.write = std::max(t.write, j["write"].get<double>());
    }
    for (const auto& rec : merged) {
        t.docs += rec.doc_end - rec.doc_begin;
        t.nnz += rec.nnz;
        t.bytes += rec.bytes;
        t.resumed += rec.resumed ? 1U : 0U;
    }
    t.shards = static_cast<std::uint32_t>(merged.size());
    if (rc == 0) {
        t.wall = seconds_since(start);
        const auto stats = fmt::format(
            R"({{"ranks":{},"wall_seconds":{:.3f},"phases":{{"plan":{:.3f},"read":{:.3f},"build":{:.3f},"write":{:.3f}}}}})",
            size, t.wall, t.plan, t.read, t.build, t.write);
        const auto params = worker::build_params_json(o.build, facts[2] != 0, facts[3] != 0);
        const auto m = worker::make_manifest(o.build, std::move(merged), facts[0], facts[1], params, stats);
        text::write_index_vocab(o.build.corpus, o.build.out_dir);  // text queries need the corpus' vocabulary
        write_manifest(o.build.out_dir, m);
        t.ok = true;
        spdlog::info("index {}: {} shards ({} resumed), {} docs, {:.1f} s with {} ranks", o.build.out_dir, m.n_shards,
                     t.resumed, m.n_docs, t.wall, size);
    } else {
        t.wall = seconds_since(start);
        spdlog::error("build failed: no manifest written to {} (finished shards are kept; a re-run resumes them)",
                      o.build.out_dir);
    }
    push_build_metrics(o, t, size);
    return rc;
}

int run(Options& o, int rank, int size, bool threaded) {
    const auto start = Clock::now();
    o.build.params.pruning = seismic::parse_pruning(o.lambda_pruning);
    o.build.params.clustering = seismic::parse_clustering(o.clustering);
    o.build.dense.type = dense::parse_index_type(o.dense_index);
    o.build.resume = !o.no_resume;
    if (o.build.params.threads == 0) o.build.params.threads = threads_per_rank();
    // Rank 0 plans; everyone learns the plan or the reason there is none.
    std::vector<std::uint64_t> bounds(o.build.n_shards + 1, 0);
    std::uint64_t facts[4] = {0, 0, 0, 0};  // n_docs, dim, has sparse documents, has dense documents
    std::string plan_error;
    if (rank == 0) {
        try {
            seismic::validate(o.build.params);
            dense::validate(o.build.dense);
            ensure<UsageError>(o.build.n_shards > 0, "--shards must be positive");
            const h5::File corpus(o.build.corpus, h5::File::Mode::read);
            const auto info = describe_corpus(corpus);
            ensure<InputError>(info.docs_sparse || info.docs_dense, "{}: the corpus has no sparse or dense documents to index",
                               o.build.corpus);
            bounds = plan_shards(corpus, o.build.n_shards);
            facts[0] = info.n_docs;
            facts[1] = info.dim;
            facts[2] = info.docs_sparse ? 1 : 0;
            facts[3] = info.docs_dense ? 1 : 0;
            clean_out_dir(o.build.out_dir);
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
    MPI_Bcast(facts, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const double plan_seconds = seconds_since(start);
    if (rank == 0) {
        spdlog::info("plan: {} docs in {} shards over {} ranks ({} threads per rank), corpus {}", facts[0],
                     o.build.n_shards, size, o.build.params.threads, o.build.corpus);
    }
    {
        // Who builds what, and where to find this rank's process (operators, and the killed-rank test).
        std::string mine;
        std::uint32_t count = 0;
        for (auto s = static_cast<std::uint32_t>(rank); s < o.build.n_shards; s += static_cast<std::uint32_t>(size), ++count) {
            if (count < 8) mine += (mine.empty() ? "" : ",") + std::to_string(s);
        }
        if (count > 8) mine += fmt::format(",... ({} shards)", count);
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        spdlog::info("pid {} on {}: shards {}", ::getpid(), host, mine.empty() ? std::string("none") : mine);
    }

    // Build phase: this rank's shards, one at a time; progress to rank 0.
    std::optional<Monitor> monitor;
    std::thread monitor_thread;
    if (rank == 0) {
        monitor.emplace(size, o.build.n_shards, facts[0], o.progress_interval);
        if (threaded) monitor_thread = std::thread([&] { monitor->run_until_done(); });
    }
    std::list<Wire> outbox;  // stable addresses for the pending sends
    std::vector<MPI_Request> sends;
    const auto send = [&](Wire w) {
        outbox.push_back(w);
        MPI_Request req;
        MPI_Isend(outbox.back().data(), static_cast<int>(w.size()), MPI_UINT64_T, 0, kTagProgress, MPI_COMM_WORLD, &req);
        sends.push_back(req);
    };
    // Ranks > 0 post the receive for rank 0's abort up front and test it before each shard (a posted receive
    // completes on the first test after the message arrives; a single MPI_Iprobe may only progress it).
    bool abort_received = false;
    MPI_Request abort_request = MPI_REQUEST_NULL;
    if (rank != 0) MPI_Irecv(nullptr, 0, MPI_BYTE, 0, kTagAbort, MPI_COMM_WORLD, &abort_request);
    const auto abort_pending = [&] {
        if (rank == 0) {
            if (!threaded) monitor->step();
            return monitor->abort_requested();
        }
        if (!abort_received) {
            int flag = 0;
            MPI_Test(&abort_request, &flag, MPI_STATUS_IGNORE);
            abort_received = flag != 0;
        }
        return abort_received;
    };

    std::vector<ShardRecord> records;
    worker::ShardTimings total;
    std::string failure;
    std::uint32_t left = 0;
    for (auto s = static_cast<std::uint32_t>(rank); s < o.build.n_shards; s += static_cast<std::uint32_t>(size)) {
        if (abort_pending()) {
            for (auto x = s; x < o.build.n_shards; x += static_cast<std::uint32_t>(size)) ++left;
            spdlog::warn("stopping: another rank failed; {} of this rank's shards left for a re-run", left);
            break;
        }
        try {
            worker::ShardTimings t;
            const auto& rec = records.emplace_back(worker::build_shard(o.build, s, bounds[s], bounds[s + 1], &t));
            total.read += t.read;
            total.build += t.build;
            total.write += t.write;
            const worker::ShardProgress p{s, rec.doc_end - rec.doc_begin, rec.nnz, rec.resumed, t.read + t.build + t.write};
            if (rank == 0) {
                monitor->local_shard(p);
            } else {
                send({kShardDone, p.shard, p.docs, p.nnz, p.resumed ? 1U : 0U, static_cast<std::uint64_t>(p.seconds * 1e6)});
            }
        } catch (const std::exception& e) {
            failure = e.what();
            spdlog::error("{}", failure);
            break;
        }
    }
    const bool stopped = left > 0;
    if (rank == 0) {
        monitor->local_done(!failure.empty());
        if (threaded) {
            monitor_thread.join();
        } else {
            monitor->run_until_done();
        }
    } else {
        send({failure.empty() ? (stopped ? kRankAborted : kRankFinished) : kRankFailed, 0, 0, 0, 0, 0});
        MPI_Waitall(static_cast<int>(sends.size()), sends.data(), MPI_STATUSES_IGNORE);
    }

    // Collect: every rank's records (or its failure) to rank 0, which writes the manifest last.
    std::string message;
    if (!failure.empty()) {
        message = fmt::format("FAILED {}", failure);
    } else if (stopped) {
        message = fmt::format("STOPPED {} shards not built", left);
    } else {
        message = fmt::format(R"({{"ok":true,"records":{},"read":{:.3f},"build":{:.3f},"write":{:.3f}}})",
                              records_to_json(records), total.read, total.build, total.write);
    }
    const auto all = gather_strings(message, rank, size);
    int outcome[2] = {0, 0};  // rc, abort messages were sent
    if (rank == 0) {
        // Nothing here may throw past the broadcast below, or the other ranks would wait for it forever.
        try {
            outcome[0] = collect(o, all, facts, plan_seconds, start, size);
        } catch (const std::exception& e) {
            spdlog::error("rank 0: {}; no manifest written to {}", e.what(), o.build.out_dir);
            outcome[0] = 1;
        }
        outcome[1] = monitor->abort_sent() ? 1 : 0;
    }
    MPI_Bcast(outcome, 2, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        monitor->finish_abort();
    } else if (!abort_received) {
        // Rank 0 says whether an abort message is on its way: receive it, or withdraw the receive.
        if (outcome[1] == 0) MPI_Cancel(&abort_request);
        MPI_Wait(&abort_request, MPI_STATUS_IGNORE);
    }
    return outcome[0];
}

}  // namespace

int main(int argc, char** argv) {
    // A file size limit (ulimit -f, RLIMIT_FSIZE) signals SIGXFSZ, which kills with a core dump by default. Ignored,
    // the write fails with EFBIG instead and is reported like a full disk: one clear line, exit 1, no manifest.
    std::signal(SIGXFSZ, SIG_IGN);
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    int rank = 0;
    int size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    spdlog::set_default_logger(spdlog::stderr_color_mt("build"));
    spdlog::set_pattern(fmt::format("[%H:%M:%S.%e] [%^%l%$] [rank {}/{}] %v", rank, size));

    Options o;
    CLI::App app{"aftershock-build: build a sharded Seismic + FAISS index from a corpus (run under mpirun or srun)"};
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
    app.add_option("--kmeans-rounds", p.kmeans_rounds, "k-means rounds after the random centroids (0 = the paper's)")
        ->capture_default_str();
    app.add_option("--alpha", p.alpha, "summary energy (fraction of L1 mass kept)")->capture_default_str();
    app.add_option("--knn", p.knn, "kappa: neighbours per document in the kNN graph (0 = none)")->capture_default_str();
    app.add_option("--seed", p.seed, "clustering seed")->capture_default_str();
    auto& dp = o.build.dense;
    app.add_option("--dense-index", o.dense_index,
                   "dense part (corpora with /docs/dense): flat | hnsw | ivf-flat | ivf-pq | none (vectors only) | auto "
                   "(flat below 50000 vectors per shard, hnsw above)")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "flat", "hnsw", "ivf-flat", "ivf-pq", "none"}));
    app.add_option("--hnsw-m", dp.hnsw_m, "HNSW: neighbours per node")->capture_default_str();
    app.add_option("--ef-construction", dp.ef_construction, "HNSW: candidate list while inserting")->capture_default_str();
    app.add_option("--nlist", dp.nlist, "IVF: lists (0 = 4*sqrt(vectors per shard), at most vectors/39)")->capture_default_str();
    app.add_option("--pq-m", dp.pq_m, "IVF-PQ: sub-quantizers (0 = dim/4 rounded down to a divisor of dim)")->capture_default_str();
    app.add_option("--pq-nbits", dp.pq_nbits, "IVF-PQ: bits per code")->capture_default_str();
    app.add_option("--train-per-list", dp.train_per_list, "IVF: training vectors per list (seeded sample)")->capture_default_str();
    app.add_option("--dense-seed", dp.seed, "dense training sample and k-means seed")->capture_default_str();
    app.add_option("--threads", p.threads, "threads per rank (0 = cores / local ranks)")->capture_default_str();
    app.add_flag("--no-resume", o.no_resume, "rebuild shards even when a verified one exists");
    app.add_option("--progress-interval", o.progress_interval,
                   "seconds between rank 0's progress lines (0 = one line per finished shard)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--pushgateway", o.pushgateway,
                   "push build metrics to this Prometheus Pushgateway (host:port) at the end; failure is a warning")
        ->check([](const std::string& v) {
            try {
                (void)worker::parse_push_target(v);
                return std::string();
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        });
    app.add_option("--pushgateway-job", o.pushgateway_job, "job label of the pushed metrics")->capture_default_str();
    // Fault injection for the tests (hidden from --help): a failing shard and a slow build to kill mid-way.
    app.add_option("--fail-shard", o.build.fail_shard, "TEST ONLY: throw while building this shard")->group("");
    app.add_option("--test-delay-ms", o.build.test_delay_ms, "TEST ONLY: sleep this long before building each shard")
        ->group("");
    app.add_option_function<std::string>(
           "--log-level", [](const std::string& l) { spdlog::set_level(spdlog::level::from_str(l)); }, "log level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    int rc = 0;
    try {
        app.parse(argc, argv);
        rc = run(o, rank, size, provided >= MPI_THREAD_SERIALIZED);
    } catch (const CLI::ParseError& e) {
        rc = rank == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 1);
    } catch (const std::exception& e) {
        // Not one of the failures run() reports collectively: the other ranks may be waiting for this one.
        spdlog::error("{}", e.what());
        if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
        rc = 1;
    }
    MPI_Finalize();
    return rc;
}
