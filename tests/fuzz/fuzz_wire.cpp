// libFuzzer target: the coordinator <-> worker wire protocol decoder (common/src/wire/protocol.cpp).
// Input: a frame (24-byte header + payload). The header goes through decode_header; the payload goes through
// the decoder its type field names (whether the header was accepted or not, so every decode_* is reached; the
// auth decoders share the default branch).
// A payload that decodes is re-encoded and decoded again: the second encoding must equal the first.
// The same bytes also go through wire::FrameBuffer (how worker and coordinator receive) as a stream.
#include "aftershock/common/wire/frame_buffer.hpp"
#include "aftershock/common/wire/protocol.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

using namespace aftershock;
using namespace aftershock::wire;

namespace {

template <typename T, typename Decode>
void round_trip(const T& v, Decode decode) {
    const auto a = encode(7, v);
    const auto b = encode(7, decode(std::span<const std::byte>(a).subspan(kHeaderBytes)));
    if (a != b) std::abort();  // encode(decode(encode(x))) must be encode(x)
}

/// The input as a byte stream through FrameBuffer, delivered in chunks of 1..256 bytes (the first byte picks the
/// size): every frame that comes out must carry exactly the payload its header announced, and nothing may be read
/// past what was committed (ASan checks the spans).
void stream(const std::byte* bytes, std::size_t size) {
    constexpr std::uint32_t kMaxFrame = 1U << 16;
    FrameBuffer buf(kMaxFrame, 64);
    const std::size_t chunk = 1 + std::to_integer<std::size_t>(bytes[0]);
    std::size_t pos = 0;
    try {
        while (pos < size) {
            const auto room = buf.writable();
            if (room.empty()) std::abort();  // writable() must always make room for the pending frame
            const auto n = std::min({room.size(), chunk, size - pos});
            std::memcpy(room.data(), bytes + pos, n);
            buf.commit(n);
            pos += n;
            while (const auto frame = buf.next()) {
                if (frame->payload.size() != frame->header.length || frame->header.length > kMaxFrame) std::abort();
                volatile std::byte sink{};
                for (const auto b : frame->payload) sink = sink ^ b;  // every payload byte must be readable
            }
        }
    } catch (const Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < kHeaderBytes) return 0;
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    stream(bytes, size);
    std::uint16_t type = 0;
    std::memcpy(&type, data + 6, sizeof(type));
    try {
        const auto h = decode_header(std::span<const std::byte, kHeaderBytes>(bytes, kHeaderBytes), 1U << 20U);
        if (h.type != static_cast<MessageType>(type)) std::abort();
    } catch (const Error&) {
    }
    const std::span<const std::byte> payload(bytes + kHeaderBytes, size - kHeaderBytes);
    try {
        switch (static_cast<MessageType>(type % 8)) {
            case MessageType::search_request: round_trip(decode_search_request(payload), decode_search_request); break;
            case MessageType::search_response: round_trip(decode_search_response(payload), decode_search_response); break;
            case MessageType::error_response: {
                const auto e = decode_error_response(payload);
                (void)to_string(e.code);
                round_trip(e, decode_error_response);
                break;
            }
            case MessageType::health_response: round_trip(decode_health_response(payload), decode_health_response); break;
            case MessageType::info_response: {
                const auto s = decode_info_response(payload);
                const auto a = encode_info_response(7, s);
                if (decode_info_response(std::span<const std::byte>(a).subspan(kHeaderBytes)) != s) std::abort();
                break;
            }
            default: {
                (void)to_string(static_cast<MessageType>(type));
                // Shared-secret messages: fixed 32-byte payloads (the nonce and the proof decode alike).
                const auto proof = decode_auth_response(payload);
                const auto again = encode_auth_response(proof);
                if (decode_auth_challenge(std::span<const std::byte>(again).subspan(kHeaderBytes)) != proof) std::abort();
                break;
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
