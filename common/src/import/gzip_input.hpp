#pragma once
// Opening an importer input through zlib: gzip or plain, detected from the data. Shared by the text
// (LineReader) and binary (BinaryReader) readers.
#include "aftershock/common/error.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace aftershock {

struct GzipInput {
    gzFile file = nullptr;
    bool compressed = false;  ///< false: the file is read as it is
};

/// Opens `path` for reading with a 256 KiB buffer; throws InputError naming the file.
[[nodiscard]] inline GzipInput open_gzip_input(const std::string& path) {
    errno = 0;
    gzFile f = gzopen(path.c_str(), "rb");
    ensure<InputError>(f != nullptr, "{}: cannot open: {}", path, errno != 0 ? std::strerror(errno) : "out of memory");
    gzbuffer(f, 256U * 1024U);
    // gzdirect() peeks at the header: 0 means gzip data, 1 means the file is read as it is.
    return {f, gzdirect(f) == 0};
}

}  // namespace aftershock
