#pragma once
// Vetting an HDF5 file in a child process before this process opens it (h5::File's read modes).
//
// HDF5 1.10.8 can crash, hang or allocate gigabytes on corrupt metadata, inside the library and before any of our
// checks can run (docs/BENCHMARKS.md, "Fuzzing"). A file from outside (a corpus, an importer's input) is first
// walked by aftershock-h5vet (common/tools/h5vet_main.cpp), which touches every metadata structure; only if that
// process ends normally is the file opened here. A file it died on is refused with an InputError, so a server or a
// build rank never dies inside HDF5 on a bad file.
#include <cstdint>
#include <string>

namespace aftershock::h5 {

/// How aftershock-h5vet (common/tools/h5vet_main.cpp) ends. clean and hdf5_errors mean its walk reached everything
/// (HDF5 errors on single objects are left to the reader, whose messages name the dataset); out_of_memory and
/// incomplete refuse the file, and so does any other end (a signal, a sanitizer's report).
enum class VetExit : int { clean = 0, hdf5_errors = 2, out_of_memory = 3, incomplete = 4, usage = 64 };

/// A path opened read-only (close-on-exec) for vet_file and for the open after it; fd() is -1 when it cannot be.
class PinnedFile {
public:
    explicit PinnedFile(const std::string& path);
    ~PinnedFile();
    PinnedFile(const PinnedFile&) = delete;
    PinnedFile& operator=(const PinnedFile&) = delete;
    [[nodiscard]] int fd() const noexcept { return m_fd; }
    /// The path it was opened by: what messages call the file.
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// /proc/self/fd/<fd>: the pinned file by a name anything in this process can open; `path` itself when the file
    /// could not be opened (the caller's open then reports why) or /proc is not mounted.
    [[nodiscard]] const std::string& name() const noexcept { return m_name; }
    /// Whether `path` no longer names the pinned file (another file renamed over it, or removed).
    [[nodiscard]] bool replaced() const noexcept;

private:
    std::string m_path;
    int m_fd = -1;
    std::string m_name;
};

/// Throws InputError when aftershock-h5vet crashes, is killed or runs past the time limit on `file`, and Error when
/// it cannot be started. Outcomes are remembered, so opening a file again costs little: a file up to 16 MiB by the
/// SHA-256 of its bytes (passes and refusals, not time-outs), a larger one that vetted cleanly and had not changed
/// for 2 s before by device, inode, size, modification and change times (file times tick too coarsely to tell a
/// fresh same-size rewrite apart). A vet costs about 10 ms. Missing files pass through: H5Fopen reports them.
///
/// The vetting binary is $AFTERSHOCK_H5VET, else aftershock-h5vet next to this executable. The time limit is
/// $AFTERSHOCK_H5VET_TIMEOUT_S seconds (default 120: the walk reads metadata only, seconds for the largest corpora).
///
/// The stat, the digest and the child's walk all go through the pinned descriptor (when there is one), so that the
/// caller, opening file.name() next, reads the very file that was vetted even if its path names another one by then.
void vet_file(const PinnedFile& file);

/// How many vetting processes this process has started (tests check that a vetted file is not vetted again).
[[nodiscard]] std::uint64_t vet_processes_started() noexcept;

}  // namespace aftershock::h5
