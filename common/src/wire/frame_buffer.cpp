#include "aftershock/common/wire/frame_buffer.hpp"

#include <cstring>

namespace aftershock::wire {

FrameBuffer::FrameBuffer(std::uint32_t max_frame_bytes, std::size_t initial_bytes)
    : m_max_frame_bytes(max_frame_bytes), m_initial_bytes(std::max(initial_bytes, kHeaderBytes)), m_bytes(m_initial_bytes) {}

std::optional<FrameBuffer::Frame> FrameBuffer::next() {
    const auto avail = m_end - m_begin;
    if (avail < kHeaderBytes) return std::nullopt;
    const auto header = decode_header(std::span<const std::byte, kHeaderBytes>(m_bytes.data() + m_begin, kHeaderBytes), m_max_frame_bytes);
    const auto total = kHeaderBytes + header.length;
    if (avail < total) {
        m_need = total;
        return std::nullopt;
    }
    Frame f{header, std::span<const std::byte>(m_bytes.data() + m_begin + kHeaderBytes, header.length)};
    m_begin += total;
    m_need = 0;
    return f;
}

std::span<std::byte> FrameBuffer::writable() {
    const auto kept = m_end - m_begin;
    if (m_begin > 0) {
        std::memmove(m_bytes.data(), m_bytes.data() + m_begin, kept);
        m_begin = 0;
        m_end = kept;
    }
    if (kept == 0 && m_bytes.size() > 16 * m_initial_bytes) {
        m_bytes = std::vector<std::byte>(m_initial_bytes);  // give a huge frame's room back
    }
    if (m_bytes.size() < m_need) m_bytes.resize(m_need);  // m_need <= kHeaderBytes + max_frame_bytes (header checked)
    return {m_bytes.data() + m_end, m_bytes.size() - m_end};
}

}  // namespace aftershock::wire
