#include "aftershock/common/wire/protocol.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <type_traits>

namespace aftershock::wire {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; add byte swaps here");

namespace {

/// Appends fixed-width little-endian fields; the frame header is written first and its length patched last.
class Writer {
public:
    Writer(MessageType type, std::uint64_t request_id) {
        m_bytes.reserve(kHeaderBytes + 64);
        put(kMagic);
        put(kVersion);
        put(static_cast<std::uint16_t>(type));
        put(request_id);
        put(std::uint32_t{0});  // length, patched in finish()
        put(std::uint32_t{0});  // reserved
    }
    template <typename T>
    void put(T v) {
        static_assert(std::is_trivially_copyable_v<T>);
        append(&v, sizeof(T));
    }
    template <typename T>
    void put_array(const std::vector<T>& v) {
        put(static_cast<std::uint32_t>(v.size()));
        append(v.data(), v.size() * sizeof(T));
    }
    void put_string(const std::string& s) {
        put(static_cast<std::uint32_t>(s.size()));
        append(s.data(), s.size());
    }
    std::vector<std::byte> finish() {
        const auto length = static_cast<std::uint32_t>(m_bytes.size() - kHeaderBytes);
        std::memcpy(m_bytes.data() + 16, &length, sizeof(length));
        return std::move(m_bytes);
    }

private:
    void append(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::byte*>(data);
        m_bytes.insert(m_bytes.end(), p, p + n);
    }
    std::vector<std::byte> m_bytes;
};

/// Bounds-checked reads over one payload; every failure names the field.
class Reader {
public:
    explicit Reader(std::span<const std::byte> bytes) : m_bytes(bytes) {}
    template <typename T>
    T get(const char* field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, m_bytes.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return v;
    }
    template <typename T>
    std::vector<T> get_array(const char* field) {
        const auto n = get<std::uint32_t>(field);
        // Compare against the bytes present before allocating, so a forged count cannot reserve gigabytes.
        need(std::size_t{n} * sizeof(T), field);
        std::vector<T> v(n);
        if (n != 0) std::memcpy(v.data(), m_bytes.data() + m_pos, std::size_t{n} * sizeof(T));
        m_pos += std::size_t{n} * sizeof(T);
        return v;
    }
    std::string get_string(const char* field) {
        const auto n = get<std::uint32_t>(field);
        need(n, field);
        std::string s(reinterpret_cast<const char*>(m_bytes.data() + m_pos), n);
        m_pos += n;
        return s;
    }
    /// A count of items that each take at least min_item_bytes: rejects counts the payload cannot hold.
    std::uint32_t get_count(const char* field, std::size_t min_item_bytes) {
        const auto n = get<std::uint32_t>(field);
        ensure<ProtocolError>(std::size_t{n} * min_item_bytes <= m_bytes.size() - m_pos,
                              "wire: {} = {} is more than the payload can hold", field, n);
        return n;
    }
    void done(const char* message) const {
        ensure<ProtocolError>(m_pos == m_bytes.size(), "wire: {} bytes left over after the {}", m_bytes.size() - m_pos,
                              message);
    }

private:
    void need(std::size_t n, const char* field) const {
        ensure<ProtocolError>(n <= m_bytes.size() - m_pos, "wire: truncated payload at field '{}'", field);
    }
    std::span<const std::byte> m_bytes;
    std::size_t m_pos = 0;
};

bool known_type(std::uint16_t t) { return t >= 1 && t <= 14; }

/// A payload of exactly N raw bytes (nonce, proof).
template <std::size_t N>
std::array<std::byte, N> decode_fixed(std::span<const std::byte> payload, const char* what) {
    Reader rd(payload);
    std::array<std::byte, N> out{};
    for (auto& b : out) b = rd.get<std::byte>(what);
    rd.done(what);
    return out;
}

template <std::size_t N>
std::vector<std::byte> encode_fixed(MessageType type, const std::array<std::byte, N>& bytes) {
    Writer w(type, 0);
    for (const auto b : bytes) w.put(b);
    return w.finish();
}

}  // namespace

FrameHeader decode_header(std::span<const std::byte, kHeaderBytes> bytes, std::uint32_t max_frame_bytes) {
    Reader r(bytes);
    const auto magic = r.get<std::uint32_t>("magic");
    ensure<ProtocolError>(magic == kMagic, "wire: bad magic 0x{:08x} (not an Aftershock peer)", magic);
    const auto version = r.get<std::uint16_t>("version");
    ensure<ProtocolError>(version == kVersion, "wire: protocol version {} not supported (this side speaks {})", version,
                          kVersion);
    const auto type = r.get<std::uint16_t>("type");
    ensure<ProtocolError>(known_type(type), "wire: unknown message type {}", type);
    FrameHeader h;
    h.type = static_cast<MessageType>(type);
    h.request_id = r.get<std::uint64_t>("request_id");
    h.length = r.get<std::uint32_t>("length");
    ensure<ProtocolError>(h.length <= max_frame_bytes, "wire: frame of {} bytes exceeds the limit of {}", h.length,
                          max_frame_bytes);
    (void)r.get<std::uint32_t>("reserved");
    return h;
}

void set_request_id(std::vector<std::byte>& frame, std::uint64_t request_id) {
    ensure<ProtocolError>(frame.size() >= kHeaderBytes, "wire: frame shorter than its header");
    std::memcpy(frame.data() + 8, &request_id, sizeof(request_id));
}

std::vector<std::byte> encode_health_request(std::uint64_t request_id) {
    return Writer(MessageType::health_request, request_id).finish();
}

std::vector<std::byte> encode_info_request(std::uint64_t request_id) {
    return Writer(MessageType::info_request, request_id).finish();
}

std::vector<std::byte> encode_auth_challenge(const AuthNonce& nonce) { return encode_fixed(MessageType::auth_challenge, nonce); }

std::vector<std::byte> encode_auth_response(const AuthProof& proof) { return encode_fixed(MessageType::auth_response, proof); }

std::vector<std::byte> encode_auth_ok() { return Writer(MessageType::auth_ok, 0).finish(); }

AuthNonce decode_auth_challenge(std::span<const std::byte> payload) {
    return decode_fixed<kAuthNonceBytes>(payload, "auth challenge");
}

AuthProof decode_auth_response(std::span<const std::byte> payload) {
    return decode_fixed<kAuthProofBytes>(payload, "auth response");
}

namespace {

// Search knobs: a byte of flags (bit i: knob i is given, in the order below), then every knob's field; a knob not
// given has all its field's bytes 0 (one encoding per request, so that re-encoding a decoded request gives its bytes).
constexpr std::uint8_t kAllKnobs = 63;  ///< the six knobs' flags

void put_knobs(Writer& w, const SearchKnobs& k) {
    const bool given[] = {k.query_cut.has_value(), k.heap_factor.has_value(), k.knn.has_value(),
                          k.first_sorted.has_value(), k.ef_search.has_value(), k.nprobe.has_value()};
    std::uint8_t flags = 0;
    for (std::size_t i = 0; i < std::size(given); ++i) flags |= static_cast<std::uint8_t>(given[i] ? 1U << i : 0U);
    w.put(flags);
    w.put(k.query_cut.value_or(0U));
    w.put(k.heap_factor.value_or(0.0F));
    w.put(k.knn.value_or(0U));
    w.put(static_cast<std::uint8_t>(k.first_sorted.value_or(false) ? 1 : 0));
    w.put(k.ef_search.value_or(0U));
    w.put(k.nprobe.value_or(0U));
}

template <typename T>
std::optional<T> get_knob(Reader& rd, std::uint8_t flags, unsigned bit, const char* field) {
    const auto v = rd.get<T>(field);
    if ((flags >> bit) & 1U) return v;
    std::array<std::byte, sizeof(T)> bytes{};
    std::memcpy(bytes.data(), &v, sizeof(T));
    ensure<ProtocolError>(bytes == std::array<std::byte, sizeof(T)>{}, "wire: knob {} is not given, but its field is "
                          "not 0", field);
    return std::nullopt;
}

SearchKnobs get_knobs(Reader& rd) {
    const auto flags = rd.get<std::uint8_t>("knob flags");
    ensure<ProtocolError>((flags & ~kAllKnobs) == 0, "wire: unknown knob flags {:#x}", flags);
    SearchKnobs k;
    k.query_cut = get_knob<std::uint32_t>(rd, flags, 0, "query_cut");
    k.heap_factor = get_knob<float>(rd, flags, 1, "heap_factor");
    k.knn = get_knob<std::uint32_t>(rd, flags, 2, "knn");
    if (const auto f = get_knob<std::uint8_t>(rd, flags, 3, "first_sorted")) {
        ensure<ProtocolError>(*f <= 1, "wire: first_sorted must be 0 or 1, not {}", *f);
        k.first_sorted = *f == 1;
    }
    k.ef_search = get_knob<std::uint32_t>(rd, flags, 4, "ef_search");
    k.nprobe = get_knob<std::uint32_t>(rd, flags, 5, "nprobe");
    return k;
}

}  // namespace

std::vector<std::byte> encode(std::uint64_t request_id, const SearchRequest& r) {
    Writer w(MessageType::search_request, request_id);
    w.put(r.shard);
    w.put(static_cast<std::uint8_t>(r.route));
    w.put(static_cast<std::uint8_t>(r.exact ? 1 : 0));
    w.put(r.k);
    w.put(r.timeout_ms);
    put_knobs(w, r.knobs);
    w.put(static_cast<std::uint32_t>(r.queries.size()));
    for (const auto& q : r.queries) {
        if (r.route == Route::sparse) {
            w.put_array(q.indices);
            w.put_array(q.values);
        } else {
            w.put_array(q.dense);
        }
    }
    return w.finish();
}

SearchRequest decode_search_request(std::span<const std::byte> payload) {
    Reader rd(payload);
    SearchRequest r;
    r.shard = rd.get<std::uint32_t>("shard");
    const auto route = rd.get<std::uint8_t>("route");
    ensure<ProtocolError>(route <= 1, "wire: unknown route {}", route);
    r.route = static_cast<Route>(route);
    r.exact = rd.get<std::uint8_t>("exact") != 0;
    r.k = rd.get<std::uint32_t>("k");
    r.timeout_ms = rd.get<std::uint32_t>("timeout_ms");
    r.knobs = get_knobs(rd);
    const auto n = rd.get_count("n_queries", 4);
    r.queries.resize(n);
    for (auto& q : r.queries) {
        if (r.route == Route::sparse) {
            q.indices = rd.get_array<std::uint32_t>("indices");
            q.values = rd.get_array<float>("values");
            ensure<ProtocolError>(q.indices.size() == q.values.size(),
                                  "wire: sparse query with {} indices but {} values", q.indices.size(), q.values.size());
        } else {
            q.dense = rd.get_array<float>("dense");
        }
    }
    rd.done("search request");
    return r;
}

std::vector<std::byte> encode(std::uint64_t request_id, const SearchResponse& r) {
    Writer w(MessageType::search_response, request_id);
    w.put(r.shard);
    w.put(r.search_ns);
    w.put(r.work.postings);
    w.put(r.work.blocks);
    w.put(r.work.docs_scored);
    w.put(static_cast<std::uint32_t>(r.results.size()));
    for (std::size_t q = 0; q < r.results.size(); ++q) {
        const auto& list = r.results[q];
        const bool with_ids = q < r.ids.size() && r.ids[q].size() == list.size();
        w.put(static_cast<std::uint32_t>(list.size()));
        w.put(static_cast<std::uint8_t>(with_ids ? 1 : 0));
        for (std::size_t i = 0; i < list.size(); ++i) {
            w.put(list[i].doc);
            w.put(list[i].score);
            if (with_ids) w.put_string(r.ids[q][i]);
        }
    }
    return w.finish();
}

SearchResponse decode_search_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    SearchResponse r;
    r.shard = rd.get<std::uint32_t>("shard");
    r.search_ns = rd.get<std::uint64_t>("search_ns");
    r.work.postings = rd.get<std::uint64_t>("postings");
    r.work.blocks = rd.get<std::uint64_t>("blocks");
    r.work.docs_scored = rd.get<std::uint64_t>("docs_scored");
    r.results.resize(rd.get_count("n_results", 5));
    r.ids.resize(r.results.size());
    for (std::size_t q = 0; q < r.results.size(); ++q) {
        auto& list = r.results[q];
        list.resize(rd.get_count("n_hits", 12));
        const bool with_ids = rd.get<std::uint8_t>("with_ids") != 0;
        for (auto& h : list) {
            h.doc = rd.get<std::uint64_t>("doc");
            h.score = rd.get<float>("score");
            if (with_ids) r.ids[q].push_back(rd.get_string("id"));
        }
    }
    rd.done("search response");
    return r;
}

std::vector<std::byte> encode(std::uint64_t request_id, const ErrorResponse& r) {
    Writer w(MessageType::error_response, request_id);
    w.put(static_cast<std::uint16_t>(r.code));
    w.put_string(r.message);
    return w.finish();
}

ErrorResponse decode_error_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    ErrorResponse r;
    const auto code = rd.get<std::uint16_t>("code");
    ensure<ProtocolError>(code >= 1 && code <= 8, "wire: unknown error code {}", code);
    r.code = static_cast<ErrorCode>(code);
    r.message = rd.get_string("message");
    rd.done("error response");
    return r;
}

std::vector<std::byte> encode(std::uint64_t request_id, const HealthResponse& r) {
    Writer w(MessageType::health_response, request_id);
    w.put(static_cast<std::uint8_t>(r.ready ? 1 : 0));
    w.put(r.shards);
    w.put(r.in_flight);
    return w.finish();
}

HealthResponse decode_health_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    HealthResponse r;
    r.ready = rd.get<std::uint8_t>("ready") != 0;
    r.shards = rd.get<std::uint32_t>("shards");
    r.in_flight = rd.get<std::uint64_t>("in_flight");
    rd.done("health response");
    return r;
}

std::vector<std::byte> encode_info_response(std::uint64_t request_id, const std::string& json) {
    Writer w(MessageType::info_response, request_id);
    w.put_string(json);
    return w.finish();
}

std::string decode_info_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    auto s = rd.get_string("info");
    rd.done("info response");
    return s;
}

std::vector<std::byte> encode(std::uint64_t request_id, const ScoreRequest& r) {
    Writer w(MessageType::score_request, request_id);
    w.put(r.shard);
    w.put(r.timeout_ms);
    w.put_array(r.dense);
    w.put_array(r.docs);
    return w.finish();
}

ScoreRequest decode_score_request(std::span<const std::byte> payload) {
    Reader rd(payload);
    ScoreRequest r;
    r.shard = rd.get<std::uint32_t>("shard");
    r.timeout_ms = rd.get<std::uint32_t>("timeout_ms");
    r.dense = rd.get_array<float>("dense");
    r.docs = rd.get_array<std::uint64_t>("docs");
    rd.done("score request");
    return r;
}

std::vector<std::byte> encode(std::uint64_t request_id, const ScoreResponse& r) {
    Writer w(MessageType::score_response, request_id);
    w.put(r.shard);
    w.put(r.search_ns);
    w.put_array(r.scores);
    return w.finish();
}

ScoreResponse decode_score_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    ScoreResponse r;
    r.shard = rd.get<std::uint32_t>("shard");
    r.search_ns = rd.get<std::uint64_t>("search_ns");
    r.scores = rd.get_array<float>("scores");
    rd.done("score response");
    return r;
}

namespace {

FetchKind fetch_kind(Reader& rd) {
    const auto kind = rd.get<std::uint8_t>("kind");
    ensure<ProtocolError>(kind <= 1, "wire: unknown fetch kind {}", kind);
    return static_cast<FetchKind>(kind);
}

}  // namespace

std::vector<std::byte> encode(std::uint64_t request_id, const FetchRequest& r) {
    Writer w(MessageType::fetch_request, request_id);
    w.put(r.shard);
    w.put(r.timeout_ms);
    w.put(static_cast<std::uint8_t>(r.kind));
    w.put_array(r.docs);
    return w.finish();
}

FetchRequest decode_fetch_request(std::span<const std::byte> payload) {
    Reader rd(payload);
    FetchRequest r;
    r.shard = rd.get<std::uint32_t>("shard");
    r.timeout_ms = rd.get<std::uint32_t>("timeout_ms");
    r.kind = fetch_kind(rd);
    r.docs = rd.get_array<std::uint64_t>("docs");
    rd.done("fetch request");
    return r;
}

std::vector<std::byte> encode(std::uint64_t request_id, const FetchResponse& r) {
    Writer w(MessageType::fetch_response, request_id);
    w.put(r.shard);
    w.put(r.search_ns);
    w.put(static_cast<std::uint8_t>(r.kind));
    w.put(static_cast<std::uint32_t>(r.rows.size()));
    for (const auto& row : r.rows) {
        if (r.kind == FetchKind::sparse) {
            w.put_array(row.indices);
            w.put_array(row.values);
        } else {
            w.put_array(row.dense);
        }
    }
    return w.finish();
}

FetchResponse decode_fetch_response(std::span<const std::byte> payload) {
    Reader rd(payload);
    FetchResponse r;
    r.shard = rd.get<std::uint32_t>("shard");
    r.search_ns = rd.get<std::uint64_t>("search_ns");
    r.kind = fetch_kind(rd);
    r.rows.resize(rd.get_count("n_rows", r.kind == FetchKind::sparse ? 8 : 4));
    for (auto& row : r.rows) {
        if (r.kind == FetchKind::sparse) {
            row.indices = rd.get_array<std::uint32_t>("indices");
            row.values = rd.get_array<float>("values");
            ensure<ProtocolError>(row.indices.size() == row.values.size(), "wire: sparse row with {} indices but {} values",
                                  row.indices.size(), row.values.size());
        } else {
            row.dense = rd.get_array<float>("dense");
        }
    }
    rd.done("fetch response");
    return r;
}

const char* to_string(ErrorCode c) noexcept {
    switch (c) {
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::unknown_shard: return "unknown_shard";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::deadline: return "deadline";
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::internal: return "internal";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::unauthorized: return "unauthorized";
    }
    return "unknown";
}

const char* to_string(MessageType t) noexcept {
    switch (t) {
    case MessageType::health_request: return "health_request";
    case MessageType::health_response: return "health_response";
    case MessageType::info_request: return "info_request";
    case MessageType::info_response: return "info_response";
    case MessageType::search_request: return "search_request";
    case MessageType::search_response: return "search_response";
    case MessageType::error_response: return "error_response";
    case MessageType::score_request: return "score_request";
    case MessageType::score_response: return "score_response";
    case MessageType::fetch_request: return "fetch_request";
    case MessageType::fetch_response: return "fetch_response";
    case MessageType::auth_challenge: return "auth_challenge";
    case MessageType::auth_response: return "auth_response";
    case MessageType::auth_ok: return "auth_ok";
    }
    return "unknown";
}

}  // namespace aftershock::wire
