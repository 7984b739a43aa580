#pragma once
// Error types and the ensure() helper. Libraries throw; binaries and servers catch at their edge and turn
// the message into a one-line log, an exit code or a wire status.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace aftershock {

/// Base of every error Aftershock throws on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Malformed or inconsistent input data (corpus files, importer inputs, queries, run files).
class InputError : public Error {
public:
    using Error::Error;
};

/// A wrong argument or parameter given by a caller (flags, config values).
class UsageError : public Error {
public:
    using Error::Error;
};

/// Throws E with a formatted message when cond is false.
template <typename E = Error, typename... Args>
inline void ensure(bool cond, fmt::format_string<Args...> format, Args&&... args) {
    if (!cond) {
        throw E(fmt::format(format, std::forward<Args>(args)...));
    }
}

}  // namespace aftershock
