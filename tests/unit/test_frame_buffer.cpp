// FrameBuffer: whole frames come out however the bytes were split by the network, in order, with their
// payloads intact; bad headers are refused; a big frame grows the buffer and its room is given back after.
#include "aftershock/common/wire/frame_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace aftershock::wire {
namespace {

std::vector<std::byte> info_frame(std::uint64_t id, std::size_t json_bytes) {
    return encode_info_response(id, std::string(json_bytes, 'x'));
}

/// Feeds `bytes` in pieces of `step` and collects (request id, payload size) of every frame that comes out.
std::vector<std::pair<std::uint64_t, std::size_t>> feed(FrameBuffer& fb, const std::vector<std::byte>& bytes, std::size_t step) {
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    for (std::size_t at = 0; at < bytes.size();) {
        const auto room = fb.writable();
        const auto n = std::min({step, room.size(), bytes.size() - at});
        std::memcpy(room.data(), bytes.data() + at, n);
        fb.commit(n);
        at += n;
        while (const auto f = fb.next()) {
            EXPECT_EQ(f->header.type, MessageType::info_response);
            EXPECT_EQ(decode_info_response(f->payload), std::string(f->header.request_id * 10, 'x'));
            out.emplace_back(f->header.request_id, f->payload.size());
        }
    }
    return out;
}

TEST(FrameBuffer, FramesComeOutWholeAndInOrderHoweverTheBytesAreSplit) {
    std::vector<std::byte> stream;
    for (std::uint64_t id = 1; id <= 6; ++id) {
        const auto f = info_frame(id, id * 10);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (const std::size_t step : {std::size_t{1}, std::size_t{7}, kHeaderBytes, std::size_t{100}, stream.size()}) {
        FrameBuffer fb(1 << 20, 64);
        const auto got = feed(fb, stream, step);
        ASSERT_EQ(got.size(), 6U) << "step " << step;
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].first, i + 1) << "step " << step;
        EXPECT_EQ(fb.partial_bytes(), 0U);
    }
}

TEST(FrameBuffer, PartialFrameIsReportedUntilComplete) {
    FrameBuffer fb(1 << 20, 64);
    const auto f = info_frame(3, 30);
    auto room = fb.writable();
    std::memcpy(room.data(), f.data(), 10);
    fb.commit(10);
    EXPECT_FALSE(fb.next().has_value()) << "half a header";
    EXPECT_EQ(fb.partial_bytes(), 10U);
    room = fb.writable();
    std::memcpy(room.data(), f.data() + 10, f.size() - 11);
    fb.commit(f.size() - 11);
    EXPECT_FALSE(fb.next().has_value()) << "one byte short";
    room = fb.writable();
    std::memcpy(room.data(), f.data() + f.size() - 1, 1);
    fb.commit(1);
    EXPECT_TRUE(fb.next().has_value());
    EXPECT_EQ(fb.partial_bytes(), 0U);
}

TEST(FrameBuffer, BigFrameGrowsTheBufferThenGivesTheRoomBack) {
    FrameBuffer fb(1 << 20, 64);
    const auto big = info_frame(100, 100 * 10);  // 1,000-byte payload through a 64-byte buffer
    EXPECT_EQ(feed(fb, big, 50).size(), 1U);
    EXPECT_EQ(fb.writable().size(), 64U) << "back to the initial size once the big frame is consumed";
}

TEST(FrameBuffer, BadHeadersAndOversizedFramesAreRefused) {
    FrameBuffer small(100, 64);
    auto f = info_frame(20, 200);  // payload over the 100-byte limit
    auto room = small.writable();
    std::memcpy(room.data(), f.data(), kHeaderBytes);
    small.commit(kHeaderBytes);
    EXPECT_THROW((void)small.next(), ProtocolError);

    FrameBuffer garbage(1 << 20, 64);
    room = garbage.writable();
    std::fill_n(room.begin(), kHeaderBytes, std::byte{0x5a});
    garbage.commit(kHeaderBytes);
    EXPECT_THROW((void)garbage.next(), ProtocolError);
}

}  // namespace
}  // namespace aftershock::wire
