#include "aftershock/common/hdf5_vet.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/error.hpp"

#include <hdf5.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>

extern char** environ;

namespace aftershock::h5 {
namespace {

namespace fs = std::filesystem;

bool exited_with(int status, VetExit code) { return WIFEXITED(status) && WEXITSTATUS(status) == static_cast<int>(code); }

using FileKey = std::tuple<dev_t, ino_t, off_t, std::int64_t, std::int64_t>;

std::int64_t nanoseconds(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

/// Only files whose last change (ctime, which no user call can set back) is at least this old are remembered: file
/// times tick coarsely (about 4 ms on tmpfs), so a file rewritten with the same size within one tick keeps its key.
/// A change after the vet stamps a ctime later than the remembered one.
constexpr std::int64_t kSettledNs = 2'000'000'000;

/// Files up to this size are also remembered by the SHA-256 of their bytes, with the outcome (pass or refusal).
constexpr std::uint64_t kDigestMaxBytes = std::uint64_t{16} << 20;
constexpr std::size_t kDigestCacheEntries = 4096;

std::mutex g_mutex;
std::set<FileKey> g_vetted;                                          // guarded by g_mutex
std::map<std::string, std::optional<std::string>> g_by_digest;      // guarded by g_mutex; nullopt: passed
std::atomic<std::uint64_t> g_started{0};

std::string vet_binary() {
    if (const char* env = std::getenv("AFTERSHOCK_H5VET"); env != nullptr && *env != '\0') return env;
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    ensure(!ec, "cannot vet HDF5 files: /proc/self/exe unreadable ({}); set AFTERSHOCK_H5VET", ec.message());
    return (self.parent_path() / "aftershock-h5vet").string();
}

int timeout_ms() {
    const char* env = std::getenv("AFTERSHOCK_H5VET_TIMEOUT_S");
    if (env == nullptr || *env == '\0') return 120'000;
    char* end = nullptr;
    const double s = std::strtod(env, &end);
    ensure<UsageError>(end != env && *end == '\0' && s > 0 && s <= 86'400, "AFTERSHOCK_H5VET_TIMEOUT_S={}: expected seconds in (0, 86400]", env);
    return std::max(1, static_cast<int>(s * 1000));
}

std::string describe(int status) {
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    return fmt::format("wait status {}", status);
}

/// Child stdio: nothing in, stdout and stderr to /dev/null unless AFTERSHOCK_H5VET_VERBOSE is set (a crash report
/// from a sanitizer build or HDF5's error stack is then visible).
struct SpawnActions {
    posix_spawn_file_actions_t actions{};
    SpawnActions() {
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (std::getenv("AFTERSHOCK_H5VET_VERBOSE") == nullptr) {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        }
    }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
};

/// Waits up to `ms` for `pid` to end (a pidfd makes the wait a poll with a timeout); returns its wait status or
/// nullopt after killing it at the deadline.
std::optional<int> wait_for(pid_t pid, int ms, const std::string& binary) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        int rc = 0;
        do {
            rc = ::poll(&p, 1, ms);
        } while (rc < 0 && errno == EINTR);  // a signal restarts the full wait: bounded by how often signals come
        const int poll_errno = errno;
        ::close(pidfd);
        if (rc <= 0) ::kill(pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0) {
            ensure(errno == EINTR, "waiting for {} failed: {}", binary, std::strerror(errno));
        }
        ensure(rc >= 0, "waiting for {} failed: {}", binary, std::strerror(poll_errno));
        if (rc == 0) return std::nullopt;
        return status;
    }
    // No pidfd (kernel < 5.3): poll waitpid.
    for (int waited = 0;; waited += 5) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        ensure(r >= 0 || errno == EINTR, "waiting for {} failed: {}", binary, std::strerror(errno));
        if (r == pid) return status;
        if (waited >= ms) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return std::nullopt;
        }
        ::usleep(5'000);
    }
}

struct Refusal {
    std::string reason;
    bool cacheable = true;  ///< false for a time-out, which a loaded machine can cause
};

/// Runs aftershock-h5vet on `path` (on descriptor `fd` of this process when it is not -1): nullopt when its walk
/// finished, else why the file is refused.
std::optional<Refusal> run_vet(const std::string& path, int fd) {
    const auto binary = vet_binary();
    const int ms = timeout_ms();
    ensure(::access(binary.c_str(), X_OK) == 0, "cannot vet HDF5 file {}: {} is not an executable ({}); build the project's "
           "aftershock-h5vet next to this binary or set AFTERSHOCK_H5VET", path, binary, std::strerror(errno));
    SpawnActions io;
    std::string arg0 = binary;
    std::string arg1 = path;
    if (fd >= 0) {
        // The child gets the descriptor as a plain (inheritable) one and reads the file through it. dup2 onto a
        // different number: onto itself it would keep the close-on-exec flag.
        const int child_fd = fd == 3 ? 4 : 3;
        posix_spawn_file_actions_adddup2(&io.actions, fd, child_fd);
        arg1 = fmt::format("/proc/self/fd/{}", child_fd);
    }
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, binary.c_str(), &io.actions, nullptr, argv, environ);
    ensure(rc == 0, "cannot start {} to vet {}: {}", binary, path, std::strerror(rc));
    g_started.fetch_add(1);
    const auto status = wait_for(pid, ms, binary);
    if (!status) {
        return Refusal{fmt::format("HDF5 did not finish reading the file's metadata within {} s (corrupt file: a loop in its "
                                   "metadata?); the limit is AFTERSHOCK_H5VET_TIMEOUT_S", ms / 1000.0), false};
    }
    if (exited_with(*status, VetExit::out_of_memory)) {
        return Refusal{"corrupt HDF5 metadata: reading it made the HDF5 library ask for more memory than the checking process "
                       "allows (sizes in the file are forged?)"};
    }
    if (exited_with(*status, VetExit::incomplete)) {
        return Refusal{"corrupt HDF5 metadata: the HDF5 library could not list every link and attribute in it, so the rest "
                       "could not be checked before reading"};
    }
    if (!exited_with(*status, VetExit::clean) && !exited_with(*status, VetExit::hdf5_errors)) {
        return Refusal{fmt::format("corrupt HDF5 metadata; the HDF5 library ({}.{}.{}) died reading it in a separate checking "
                                   "process ({}: {}); nothing was read here (AFTERSHOCK_H5VET_VERBOSE=1 shows its report)",
                                   H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE, binary, describe(*status))};
    }
    return std::nullopt;
}

void remember(const std::string& digest, std::optional<std::string> refusal) {
    const std::lock_guard lock(g_mutex);
    if (g_by_digest.size() >= kDigestCacheEntries) g_by_digest.clear();  // fuzzing sees millions of inputs
    g_by_digest.emplace(digest, std::move(refusal));
}

}  // namespace

std::uint64_t vet_processes_started() noexcept { return g_started.load(); }

PinnedFile::PinnedFile(const std::string& path) : m_path(path), m_name(path) {
    m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) return;
    auto name = fmt::format("/proc/self/fd/{}", m_fd);
    if (::access(name.c_str(), F_OK) != 0) {  // no /proc: nothing can name the descriptor, so the path it is
        ::close(m_fd);
        m_fd = -1;
        return;
    }
    m_name = std::move(name);
}

bool PinnedFile::replaced() const noexcept {
    struct stat pinned {};
    struct stat now {};
    if (m_fd < 0 || ::fstat(m_fd, &pinned) != 0) return false;
    return ::stat(m_path.c_str(), &now) != 0 || now.st_dev != pinned.st_dev || now.st_ino != pinned.st_ino;
}

PinnedFile::~PinnedFile() {
    if (m_fd >= 0) ::close(m_fd);
}

void vet_file(const PinnedFile& file) {
    const auto& path = file.path();
    const int fd = file.fd();
    struct stat st {};
    const int got = fd >= 0 ? ::fstat(fd, &st) : ::stat(path.c_str(), &st);
    if (got != 0 || !S_ISREG(st.st_mode)) return;  // H5Fopen says what is wrong with it
    const FileKey key{st.st_dev, st.st_ino, st.st_size, nanoseconds(st.st_mtim), nanoseconds(st.st_ctim)};
    {
        const std::lock_guard lock(g_mutex);
        if (g_vetted.count(key) != 0) return;
    }
    // A small file is known by its contents (the same bytes give the same walk): one vet however often it is opened.
    std::string digest;
    if (static_cast<std::uint64_t>(st.st_size) <= kDigestMaxBytes) {
        digest = sha256_file(file.name());
        const std::lock_guard lock(g_mutex);
        if (const auto it = g_by_digest.find(digest); it != g_by_digest.end()) {
            if (!it->second) return;
            throw InputError(fmt::format("{}: refused: {}", path, *it->second));
        }
    }
    const auto refusal = run_vet(path, fd);
    if (refusal && refusal->cacheable) {
        if (!digest.empty()) remember(digest, refusal->reason);
    } else if (!refusal) {
        if (!digest.empty()) remember(digest, std::nullopt);
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        if (nanoseconds(now) - nanoseconds(st.st_ctim) >= kSettledNs) {
            const std::lock_guard lock(g_mutex);
            g_vetted.insert(key);
        }
    }
    if (refusal) throw InputError(fmt::format("{}: refused: {}", path, refusal->reason));
}

}  // namespace aftershock::h5
