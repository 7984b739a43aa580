#pragma once
// The coordinator <-> worker binary protocol (docs/PROTOCOL.md): versioned, length-prefixed frames with
// request ids, so a connection can carry many requests at once and answers may come back in any order.
// Pure encoding and decoding with bounds checks on every field; sockets live in worker/ and coordinator/.
#include "aftershock/common/error.hpp"
#include "aftershock/common/merge.hpp"
#include "aftershock/common/wire/auth.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace aftershock::wire {

inline constexpr std::uint32_t kMagic = 0x4B534641;  ///< "AFSK" in little-endian byte order
/// 2: score and fetch messages (issue 9 pipelines). 3: each search knob flagged as given or not (0 no longer means
/// "the worker's default", so a request can turn kNN refinement off).
inline constexpr std::uint16_t kVersion = 3;
inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 64U << 20U;

/// A malformed frame or payload: the peer closes the connection (it can no longer trust the framing).
class ProtocolError : public InputError {
public:
    using InputError::InputError;
};

enum class MessageType : std::uint16_t {
    health_request = 1,
    health_response = 2,
    info_request = 3,
    info_response = 4,
    search_request = 5,
    search_response = 6,
    error_response = 7,
    score_request = 8,
    score_response = 9,
    fetch_request = 10,
    fetch_response = 11,
    // Shared secret (docs/PROTOCOL.md): only on connections to a worker started with one.
    auth_challenge = 12,  ///< worker -> client, first frame: a nonce
    auth_response = 13,   ///< client -> worker: HMAC over the nonce
    auth_ok = 14,         ///< worker -> client: requests may follow
};

struct FrameHeader {
    MessageType type = MessageType::health_request;
    std::uint64_t request_id = 0;
    std::uint32_t length = 0;  ///< payload bytes after the header
};

/// Parses and checks a header: magic, version, known type, length <= max_frame_bytes.
[[nodiscard]] FrameHeader decode_header(std::span<const std::byte, kHeaderBytes> bytes, std::uint32_t max_frame_bytes);

enum class Route : std::uint8_t { sparse = 0, dense = 1 };

/// Query-time knobs: one left empty takes the worker's default, one given (0 and false included) overrides it.
struct SearchKnobs {
    std::optional<std::uint32_t> query_cut;
    std::optional<float> heap_factor;
    std::optional<std::uint32_t> knn;  ///< 0 turns the kNN refinement off
    std::optional<bool> first_sorted;
    std::optional<std::uint32_t> ef_search;
    std::optional<std::uint32_t> nprobe;
    friend bool operator==(const SearchKnobs&, const SearchKnobs&) = default;
};

/// One query: sparse (indices ascending, values finite) or dense (one vector).
struct WireQuery {
    std::vector<std::uint32_t> indices;
    std::vector<float> values;
    std::vector<float> dense;
};

struct SearchRequest {
    std::uint32_t shard = 0;
    Route route = Route::sparse;
    bool exact = false;          ///< brute force over the shard (the online-recall shadow search)
    std::uint32_t k = 10;
    std::uint32_t timeout_ms = 0;  ///< budget left when sent; 0 = none. A worker drops work whose budget ran out.
    SearchKnobs knobs;
    std::vector<WireQuery> queries;
};

/// Work done for a request (summed over its queries); exported by workers as metrics.
struct WorkStats {
    std::uint64_t postings = 0;
    std::uint64_t blocks = 0;
    std::uint64_t docs_scored = 0;
};

struct SearchResponse {
    std::uint32_t shard = 0;
    std::uint64_t search_ns = 0;  ///< worker time spent searching (excludes queueing and I/O)
    WorkStats work;
    std::vector<std::vector<GlobalHit>> results;  ///< one list per query, global doc indices, best first
    std::vector<std::vector<std::string>> ids;    ///< external ids of those hits (same shape as results)
};

/// Exact dense scores of given documents (re-ranking): the documents' global indices, all on `shard`.
struct ScoreRequest {
    std::uint32_t shard = 0;
    std::uint32_t timeout_ms = 0;
    std::vector<float> dense;         ///< the query
    std::vector<std::uint64_t> docs;  ///< global document indices
};

struct ScoreResponse {
    std::uint32_t shard = 0;
    std::uint64_t search_ns = 0;
    std::vector<float> scores;        ///< one per requested doc, same order
};

enum class FetchKind : std::uint8_t { sparse = 0, dense = 1 };

/// Stored vectors of given documents (pseudo-relevance feedback).
struct FetchRequest {
    std::uint32_t shard = 0;
    std::uint32_t timeout_ms = 0;
    FetchKind kind = FetchKind::sparse;
    std::vector<std::uint64_t> docs;
};

/// One vector per requested doc, same order: sparse rows as (indices, values), dense rows as `dense` (d each).
struct FetchResponse {
    std::uint32_t shard = 0;
    std::uint64_t search_ns = 0;
    FetchKind kind = FetchKind::sparse;
    std::vector<WireQuery> rows;
};

enum class ErrorCode : std::uint16_t {
    bad_request = 1,     ///< malformed or invalid query (the connection stays usable)
    unknown_shard = 2,   ///< this worker does not serve the shard
    unsupported = 3,     ///< the shard has no part for the route (e.g. no dense index)
    deadline = 4,        ///< the request's budget ran out before it was searched
    overloaded = 5,
    internal = 6,
    shutting_down = 7,
    unauthorized = 8,    ///< the shared-secret proof was missing or wrong (the worker then closes the connection)
};

struct ErrorResponse {
    ErrorCode code = ErrorCode::internal;
    std::string message;
};

struct HealthResponse {
    bool ready = false;
    std::uint32_t shards = 0;
    std::uint64_t in_flight = 0;
};

/// Complete frames (header + payload) ready to write.
[[nodiscard]] std::vector<std::byte> encode_health_request(std::uint64_t request_id);
[[nodiscard]] std::vector<std::byte> encode_info_request(std::uint64_t request_id);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const SearchRequest& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const SearchResponse& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const ErrorResponse& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const HealthResponse& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const ScoreRequest& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const ScoreResponse& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const FetchRequest& r);
[[nodiscard]] std::vector<std::byte> encode(std::uint64_t request_id, const FetchResponse& r);
/// Info is a JSON document (shards served, their ranges and parts): small, rare and meant to evolve.
[[nodiscard]] std::vector<std::byte> encode_info_response(std::uint64_t request_id, const std::string& json);

/// Shared-secret messages (request id 0): the challenge carries the nonce, the response the proof.
[[nodiscard]] std::vector<std::byte> encode_auth_challenge(const AuthNonce& nonce);
[[nodiscard]] std::vector<std::byte> encode_auth_response(const AuthProof& proof);
[[nodiscard]] std::vector<std::byte> encode_auth_ok();

/// Sets the request id of an encoded frame (clients number requests per connection when they send them).
void set_request_id(std::vector<std::byte>& frame, std::uint64_t request_id);

/// Payload decoders: throw ProtocolError naming the field on truncation, trailing bytes or absurd counts.
[[nodiscard]] SearchRequest decode_search_request(std::span<const std::byte> payload);
[[nodiscard]] SearchResponse decode_search_response(std::span<const std::byte> payload);
[[nodiscard]] ErrorResponse decode_error_response(std::span<const std::byte> payload);
[[nodiscard]] HealthResponse decode_health_response(std::span<const std::byte> payload);
[[nodiscard]] std::string decode_info_response(std::span<const std::byte> payload);
[[nodiscard]] ScoreRequest decode_score_request(std::span<const std::byte> payload);
[[nodiscard]] ScoreResponse decode_score_response(std::span<const std::byte> payload);
[[nodiscard]] FetchRequest decode_fetch_request(std::span<const std::byte> payload);
[[nodiscard]] FetchResponse decode_fetch_response(std::span<const std::byte> payload);
[[nodiscard]] AuthNonce decode_auth_challenge(std::span<const std::byte> payload);
[[nodiscard]] AuthProof decode_auth_response(std::span<const std::byte> payload);

[[nodiscard]] const char* to_string(ErrorCode c) noexcept;
[[nodiscard]] const char* to_string(MessageType t) noexcept;

}  // namespace aftershock::wire
