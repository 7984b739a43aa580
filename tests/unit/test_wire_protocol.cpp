// The coordinator <-> worker protocol: round trips of every message, and every malformed frame (bad magic,
// version, type, oversized length, truncation at each byte, forged counts, trailing bytes) refused with
// ProtocolError rather than a crash or an absurd allocation.
#include "aftershock/common/wire/protocol.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>

namespace aftershock::wire {
namespace {

std::span<const std::byte, kHeaderBytes> header_of(const std::vector<std::byte>& frame) {
    return std::span<const std::byte, kHeaderBytes>(frame.data(), kHeaderBytes);
}
std::span<const std::byte> payload_of(const std::vector<std::byte>& frame) {
    return std::span<const std::byte>(frame).subspan(kHeaderBytes);
}

SearchRequest sample_request(Route route) {
    SearchRequest r;
    r.shard = 3;
    r.route = route;
    r.exact = true;
    r.k = 25;
    r.timeout_ms = 150;
    r.knobs = {7, 0.8F, 4, true, 64, 12};
    if (route == Route::sparse) {
        r.queries.push_back({{1, 5, 900}, {0.5F, 1.25F, 3.0F}, {}});
        r.queries.push_back({});  // empty query
    } else {
        r.queries.push_back({{}, {}, {0.1F, -0.2F, 0.3F, 0.4F}});
    }
    return r;
}

void expect_equal(const SearchRequest& a, const SearchRequest& b) {
    EXPECT_EQ(a.shard, b.shard);
    EXPECT_EQ(a.route, b.route);
    EXPECT_EQ(a.exact, b.exact);
    EXPECT_EQ(a.k, b.k);
    EXPECT_EQ(a.timeout_ms, b.timeout_ms);
    EXPECT_EQ(a.knobs, b.knobs);
    ASSERT_EQ(a.queries.size(), b.queries.size());
    for (std::size_t i = 0; i < a.queries.size(); ++i) {
        EXPECT_EQ(a.queries[i].indices, b.queries[i].indices);
        EXPECT_EQ(a.queries[i].values, b.queries[i].values);
        EXPECT_EQ(a.queries[i].dense, b.queries[i].dense);
    }
}

TEST(WireProtocol, KnobsTravelGivenOrNot) {
    // Each knob alone, with the values a default cannot be told from in version 2 (0, false); then none.
    for (int knob = 0; knob < 7; ++knob) {
        auto req = sample_request(Route::sparse);
        req.knobs = {};
        if (knob == 0) req.knobs.query_cut = 0U;
        if (knob == 1) req.knobs.heap_factor = 0.0F;
        if (knob == 2) req.knobs.knn = 0U;
        if (knob == 3) req.knobs.first_sorted = false;
        if (knob == 4) req.knobs.ef_search = 0U;
        if (knob == 5) req.knobs.nprobe = 0U;
        const auto frame = encode(5, req);
        const auto back = decode_search_request(payload_of(frame));
        EXPECT_EQ(back.knobs, req.knobs) << "knob " << knob;
        EXPECT_EQ(encode(5, back), frame) << "one encoding per request";
    }
}

TEST(WireProtocol, MalformedKnobsAreRefused) {
    auto req = sample_request(Route::sparse);
    req.knobs = {};
    req.knobs.first_sorted = true;
    const auto frame = encode(5, req);
    // Payload: shard u32, route u8, exact u8, k u32, timeout u32, then the knob flags byte and the knobs.
    constexpr std::size_t kFlags = kHeaderBytes + 14;
    constexpr std::size_t kFirstSorted = kFlags + 1 + 12;
    ASSERT_EQ(std::to_integer<int>(frame[kFlags]), 8);
    ASSERT_EQ(std::to_integer<int>(frame[kFirstSorted]), 1);
    const auto refused = [&](std::size_t at, std::byte value, const char* what) {
        auto bad = frame;
        bad[at] = value;
        try {
            (void)decode_search_request(payload_of(bad));
            ADD_FAILURE() << "accepted: " << what;
        } catch (const ProtocolError& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    refused(kFlags, std::byte{0x48}, "unknown knob flags");
    refused(kFirstSorted, std::byte{2}, "first_sorted must be 0 or 1");
    refused(kFlags + 1, std::byte{7}, "knob query_cut is not given");
    refused(kFlags, std::byte{0}, "knob first_sorted is not given");
}

TEST(WireProtocol, SearchRequestRoundTrip) {
    for (auto route : {Route::sparse, Route::dense}) {
        const auto req = sample_request(route);
        const auto frame = encode(42, req);
        const auto h = decode_header(header_of(frame), kDefaultMaxFrameBytes);
        EXPECT_EQ(h.type, MessageType::search_request);
        EXPECT_EQ(h.request_id, 42U);
        EXPECT_EQ(h.length, frame.size() - kHeaderBytes);
        expect_equal(decode_search_request(payload_of(frame)), req);
    }
}

TEST(WireProtocol, ResponsesRoundTrip) {
    SearchResponse resp;
    resp.shard = 9;
    resp.search_ns = 123456789;
    resp.work = {10, 20, 30};
    resp.results = {{{5000000000ULL, 2.5F}, {7, -1.0F}}, {}};
    resp.ids = {{"doc-a", ""}, {}};
    auto frame = encode(7, resp);
    set_request_id(frame, 77);
    EXPECT_EQ(decode_header(header_of(frame), kDefaultMaxFrameBytes).request_id, 77U);
    EXPECT_EQ(decode_header(header_of(frame), kDefaultMaxFrameBytes).type, MessageType::search_response);
    const auto back = decode_search_response(payload_of(frame));
    EXPECT_EQ(back.shard, 9U);
    EXPECT_EQ(back.search_ns, resp.search_ns);
    EXPECT_EQ(back.work.docs_scored, 30U);
    EXPECT_EQ(back.results, resp.results);
    EXPECT_EQ(back.ids, resp.ids);

    const auto err = encode(8, ErrorResponse{ErrorCode::unknown_shard, "shard 4 is not served here"});
    const auto e = decode_error_response(payload_of(err));
    EXPECT_EQ(e.code, ErrorCode::unknown_shard);
    EXPECT_EQ(e.message, "shard 4 is not served here");

    const auto health = decode_health_response(payload_of(encode(9, HealthResponse{true, 2, 5})));
    EXPECT_TRUE(health.ready);
    EXPECT_EQ(health.shards, 2U);
    EXPECT_EQ(health.in_flight, 5U);
    EXPECT_EQ(decode_info_response(payload_of(encode_info_response(1, R"({"shards":[]})"))), R"({"shards":[]})");
    EXPECT_EQ(encode_health_request(3).size(), kHeaderBytes);
}

TEST(WireProtocol, BadHeadersAreRefused) {
    const auto good = encode_health_request(1);
    auto bad_magic = good;
    bad_magic[0] = std::byte{'G'};  // e.g. an HTTP client: "GET "
    EXPECT_THROW((void)decode_header(header_of(bad_magic), kDefaultMaxFrameBytes), ProtocolError);
    auto bad_version = good;
    bad_version[4] = std::byte{static_cast<unsigned char>(kVersion + 1)};
    EXPECT_THROW((void)decode_header(header_of(bad_version), kDefaultMaxFrameBytes), ProtocolError);
    auto bad_type = good;
    bad_type[6] = std::byte{99};
    EXPECT_THROW((void)decode_header(header_of(bad_type), kDefaultMaxFrameBytes), ProtocolError);
    const auto big = encode(1, sample_request(Route::dense));
    EXPECT_THROW((void)decode_header(header_of(big), 8), ProtocolError) << "frame over the size limit";
    EXPECT_NO_THROW((void)decode_header(header_of(big), static_cast<std::uint32_t>(big.size())));
}

TEST(WireProtocol, EveryTruncationIsRefused) {
    for (auto route : {Route::sparse, Route::dense}) {
        const auto frame = encode(1, sample_request(route));
        const auto payload = payload_of(frame);
        for (std::size_t n = 0; n < payload.size(); ++n) {
            EXPECT_THROW((void)decode_search_request(payload.first(n)), ProtocolError) << n;
        }
    }
    SearchResponse resp;
    resp.results = {{{1, 1.0F}}};
    const auto frame = encode(1, resp);
    for (std::size_t n = 0; n < frame.size() - kHeaderBytes; ++n) {
        EXPECT_THROW((void)decode_search_response(payload_of(frame).first(n)), ProtocolError) << n;
    }
}

TEST(WireProtocol, ForgedCountsAndTrailingBytesAreRefused) {
    auto frame = encode(1, sample_request(Route::sparse));
    std::vector<std::byte> payload(frame.begin() + kHeaderBytes, frame.end());
    // n_queries sits after 4+1+1+4+4 + 4+4+4+1+4+4 = 35 bytes.
    const std::uint32_t huge = 0xFFFFFFF0U;
    std::memcpy(payload.data() + 35, &huge, 4);
    EXPECT_THROW((void)decode_search_request(payload), ProtocolError);
    auto extra = std::vector<std::byte>(frame.begin() + kHeaderBytes, frame.end());
    extra.push_back(std::byte{0});
    EXPECT_THROW((void)decode_search_request(extra), ProtocolError);
    // Mismatched index / value counts inside one query.
    SearchRequest r = sample_request(Route::sparse);
    r.queries[0].values.pop_back();
    const auto mism = encode(1, r);
    EXPECT_THROW((void)decode_search_request(payload_of(mism)), ProtocolError);
    // Unknown route byte.
    auto route = std::vector<std::byte>(frame.begin() + kHeaderBytes, frame.end());
    route[4] = std::byte{7};
    EXPECT_THROW((void)decode_search_request(route), ProtocolError);
}

TEST(WireProtocol, ScoreAndFetchRoundTrip) {
    const ScoreRequest sreq{4, 90, {0.5F, -1.0F}, {10, 11, 99}};
    const auto sframe = encode(7, sreq);
    EXPECT_EQ(decode_header(header_of(sframe), kDefaultMaxFrameBytes).type, MessageType::score_request);
    const auto sback = decode_score_request(payload_of(sframe));
    EXPECT_EQ(sback.shard, 4U);
    EXPECT_EQ(sback.timeout_ms, 90U);
    EXPECT_EQ(sback.dense, sreq.dense);
    EXPECT_EQ(sback.docs, sreq.docs);
    const auto sresp = decode_score_response(payload_of(encode(7, ScoreResponse{4, 1234, {0.25F, 3.0F, -2.0F}})));
    EXPECT_EQ(sresp.search_ns, 1234U);
    EXPECT_EQ(sresp.scores, (std::vector<float>{0.25F, 3.0F, -2.0F}));

    const FetchRequest freq{2, 0, FetchKind::dense, {5, 6}};
    const auto fback = decode_fetch_request(payload_of(encode(8, freq)));
    EXPECT_EQ(fback.kind, FetchKind::dense);
    EXPECT_EQ(fback.docs, freq.docs);
    FetchResponse sparse_rows{2, 55, FetchKind::sparse, {{{1, 4}, {0.5F, 2.0F}, {}}, {}}};
    const auto rs = decode_fetch_response(payload_of(encode(8, sparse_rows)));
    ASSERT_EQ(rs.rows.size(), 2U);
    EXPECT_EQ(rs.rows[0].indices, (std::vector<std::uint32_t>{1, 4}));
    EXPECT_EQ(rs.rows[0].values, (std::vector<float>{0.5F, 2.0F}));
    EXPECT_TRUE(rs.rows[1].indices.empty());
    FetchResponse dense_rows{2, 55, FetchKind::dense, {{{}, {}, {1.0F, 2.0F}}}};
    EXPECT_EQ(decode_fetch_response(payload_of(encode(8, dense_rows))).rows[0].dense, (std::vector<float>{1.0F, 2.0F}));
}

TEST(WireProtocol, ScoreAndFetchTruncationsAndBadFieldsAreRefused) {
    const std::vector<std::vector<std::byte>> frames{
        encode(1, ScoreRequest{1, 2, {1.0F}, {3}}), encode(1, ScoreResponse{1, 2, {1.0F}}),
        encode(1, FetchRequest{1, 2, FetchKind::sparse, {3}}),
        encode(1, FetchResponse{1, 2, FetchKind::sparse, {{{1}, {1.0F}, {}}}})};
    for (std::size_t f = 0; f < frames.size(); ++f) {
        const auto payload = payload_of(frames[f]);
        for (std::size_t n = 0; n < payload.size(); ++n) {
            const auto cut = payload.first(n);
            switch (f) {
            case 0: EXPECT_THROW((void)decode_score_request(cut), ProtocolError) << n; break;
            case 1: EXPECT_THROW((void)decode_score_response(cut), ProtocolError) << n; break;
            case 2: EXPECT_THROW((void)decode_fetch_request(cut), ProtocolError) << n; break;
            default: EXPECT_THROW((void)decode_fetch_response(cut), ProtocolError) << n; break;
            }
        }
    }
    // Unknown fetch kind (after shard and timeout_ms).
    std::vector<std::byte> kind(payload_of(frames[2]).begin(), payload_of(frames[2]).end());
    kind[8] = std::byte{9};
    EXPECT_THROW((void)decode_fetch_request(kind), ProtocolError);
    // A sparse row whose value count differs from its index count.
    const auto mism = encode(1, FetchResponse{1, 2, FetchKind::sparse, {{{1, 2}, {1.0F}, {}}}});
    EXPECT_THROW((void)decode_fetch_response(payload_of(mism)), ProtocolError);
}

TEST(WireProtocol, SharedSecretChallenge) {
    const std::string secret = "correct-horse-battery-staple";
    const auto nonce = make_auth_nonce();
    EXPECT_NE(nonce, make_auth_nonce()) << "nonces must be fresh";
    const auto challenge = encode_auth_challenge(nonce);
    const auto h = decode_header(header_of(challenge), kDefaultMaxFrameBytes);
    EXPECT_EQ(h.type, MessageType::auth_challenge);
    EXPECT_EQ(h.request_id, 0U);
    EXPECT_EQ(decode_auth_challenge(payload_of(challenge)), nonce);
    const auto proof = auth_proof(secret, nonce);
    EXPECT_EQ(decode_auth_response(payload_of(encode_auth_response(proof))), proof);
    EXPECT_EQ(decode_header(header_of(encode_auth_ok()), kDefaultMaxFrameBytes).type, MessageType::auth_ok);
    EXPECT_TRUE(check_auth_proof(secret, nonce, proof));
    EXPECT_FALSE(check_auth_proof("correct-horse-battery-stapl3", nonce, proof)) << "wrong secret";
    EXPECT_FALSE(check_auth_proof(secret, make_auth_nonce(), proof)) << "replayed on another nonce";
    auto flipped = proof;
    flipped[31] ^= std::byte{1};
    EXPECT_FALSE(check_auth_proof(secret, nonce, flipped));
    // Pinned against the openssl CLI, so other implementations can check theirs: (printf 'aftershock-worker-auth-v1';
    // head -c 32 /dev/zero) | openssl dgst -sha256 -hmac correct-horse-battery-staple
    const auto pinned = auth_proof(secret, AuthNonce{});
    std::string hex;
    for (const auto b : pinned) hex += fmt::format("{:02x}", std::to_integer<unsigned>(b));
    EXPECT_EQ(hex, "baa44bdd47b6a4cd8f33e7d23ec60de181f8a4712b909ce6bc4fdac78dc0f1f3");
    EXPECT_THROW((void)decode_auth_challenge(payload_of(challenge).first(31)), ProtocolError);
    auto longer = std::vector<std::byte>(payload_of(challenge).begin(), payload_of(challenge).end());
    longer.push_back(std::byte{0});
    EXPECT_THROW((void)decode_auth_response(longer), ProtocolError);
    EXPECT_STREQ(to_string(ErrorCode::unauthorized), "unauthorized");
    EXPECT_EQ(decode_error_response(payload_of(encode(0, ErrorResponse{ErrorCode::unauthorized, "no"}))).code, ErrorCode::unauthorized);
}

}  // namespace
}  // namespace aftershock::wire
