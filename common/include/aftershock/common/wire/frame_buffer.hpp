#pragma once
// Receive buffer for framed streams (docs/PROTOCOL.md): bytes go in as the socket delivers them, whole frames
// come out in place. One read usually brings a whole request (or several pipelined ones), so a frame costs one
// receive instead of a read for the header and another for the payload. Socket-free: worker/ and coordinator/
// both read through it.
#include "aftershock/common/wire/protocol.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace aftershock::wire {

class FrameBuffer {
public:
    struct Frame {
        FrameHeader header;
        std::span<const std::byte> payload;  ///< valid until the next call to writable()
    };

    explicit FrameBuffer(std::uint32_t max_frame_bytes, std::size_t initial_bytes = 64 * 1024);

    /// The next complete frame, if one has arrived; throws ProtocolError for a bad header.
    [[nodiscard]] std::optional<Frame> next();
    /// Bytes of a frame that has started but not completed (0 between frames).
    [[nodiscard]] std::size_t partial_bytes() const noexcept { return m_end - m_begin; }
    /// Room to receive into: compacts what is kept to the front and grows to fit the pending frame
    /// (at most kHeaderBytes + max_frame_bytes). Invalidates earlier payload spans.
    [[nodiscard]] std::span<std::byte> writable();
    /// `n` bytes were received into writable().
    void commit(std::size_t n) noexcept { m_end += n; }

private:
    std::uint32_t m_max_frame_bytes;
    std::size_t m_initial_bytes;
    std::size_t m_need = 0;  ///< size of the incomplete frame at the front, once its header is known
    std::vector<std::byte> m_bytes;
    std::size_t m_begin = 0;
    std::size_t m_end = 0;
};

}  // namespace aftershock::wire
