#include "aftershock/common/import/line_reader.hpp"

#include "aftershock/common/error.hpp"
#include "gzip_input.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace aftershock {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 20;

gzFile as_gz(void* p) { return static_cast<gzFile>(p); }

}  // namespace

LineReader::LineReader(std::string path) : m_path(std::move(path)) {
    const auto in = open_gzip_input(m_path);
    m_gz = in.file;
    m_compressed = in.compressed;
    m_buf.resize(kChunk);
}

LineReader::~LineReader() { close(); }

LineReader::LineReader(LineReader&& o) noexcept
    : m_path(std::move(o.m_path)),
      m_gz(std::exchange(o.m_gz, nullptr)),
      m_compressed(o.m_compressed),
      m_eof(o.m_eof),
      m_buf(std::move(o.m_buf)),
      m_pos(o.m_pos),
      m_end(o.m_end),
      m_long(std::move(o.m_long)),
      m_line_no(o.m_line_no),
      m_bytes(o.m_bytes) {}

LineReader& LineReader::operator=(LineReader&& o) noexcept {
    if (this != &o) {
        close();
        m_path = std::move(o.m_path);
        m_gz = std::exchange(o.m_gz, nullptr);
        m_compressed = o.m_compressed;
        m_eof = o.m_eof;
        m_buf = std::move(o.m_buf);
        m_pos = o.m_pos;
        m_end = o.m_end;
        m_long = std::move(o.m_long);
        m_line_no = o.m_line_no;
        m_bytes = o.m_bytes;
    }
    return *this;
}

void LineReader::close() noexcept {
    if (m_gz != nullptr) gzclose(as_gz(m_gz));
    m_gz = nullptr;
}

bool LineReader::fill() {
    if (m_eof) return false;
    const int n = gzread(as_gz(m_gz), m_buf.data(), static_cast<unsigned>(m_buf.size()));
    int err = Z_OK;
    const char* msg = gzerror(as_gz(m_gz), &err);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) {
        // Z_BUF_ERROR at the end of input is zlib's way of saying the gzip stream is cut short.
        const bool truncated = err == Z_BUF_ERROR;
        throw InputError(fmt::format("{}: line {}: {}", m_path, m_line_no + 1,
                                     truncated ? "truncated gzip stream (unexpected end of file)"
                                     : err == Z_ERRNO ? fmt::format("read error: {}", std::strerror(errno))
                                                      : fmt::format("corrupt gzip data: {}", msg)));
    }
    m_pos = 0;
    m_end = static_cast<std::size_t>(n);
    m_bytes += m_end;
    if (n == 0) m_eof = true;
    return n > 0;
}

bool LineReader::next(std::string_view& line) {
    m_long.clear();
    bool spanning = false;
    for (;;) {
        if (m_pos == m_end && !fill()) {
            if (!spanning) return false;
            break;  // last line without a trailing newline
        }
        const char* begin = m_buf.data() + m_pos;
        const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', m_end - m_pos));
        if (nl != nullptr) {
            const auto len = static_cast<std::size_t>(nl - begin);
            m_pos += len + 1;
            if (!spanning) {
                line = std::string_view(begin, len);
                ++m_line_no;
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                return true;
            }
            m_long.append(begin, len);
            break;
        }
        m_long.append(begin, m_end - m_pos);
        m_pos = m_end;
        spanning = true;
        ensure<InputError>(m_long.size() <= max_line_bytes(), "{}: line {}: longer than {} bytes (not a text file?)",
                           m_path, m_line_no + 1, max_line_bytes());
    }
    ++m_line_no;
    line = m_long;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
}

}  // namespace aftershock
