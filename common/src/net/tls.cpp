#include "aftershock/common/net/tls.hpp"

#include "aftershock/common/error.hpp"

#include <boost/asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>

namespace aftershock::net {

namespace ssl = boost::asio::ssl;

namespace {

/// TLS 1.2 or newer, no compression, no renegotiation; OpenSSL's default cipher suites (all AEAD in 3.0).
std::shared_ptr<TlsContext> base_context(ssl::context::method method) {
    auto ctx = std::make_shared<TlsContext>(method);
    ensure(SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) == 1, "TLS: cannot require TLS 1.2");
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression | SSL_OP_NO_RENEGOTIATION);
    return ctx;
}

/// Runs one OpenSSL-backed set-up step and turns its failure into a UsageError naming the flag's file.
template <typename Step>
void load(const char* what, const std::string& file, Step&& step) {
    ensure<UsageError>(std::filesystem::is_regular_file(file), "TLS {} {}: no such file", what, file);
    boost::system::error_code ec;
    step(ec);
    ensure<UsageError>(!ec, "TLS {} {}: {}", what, file, ec.message());
}

void use_identity(TlsContext& ctx, const TlsFiles& f) {
    load("certificate", f.cert, [&](auto& ec) { ctx.use_certificate_chain_file(f.cert, ec); });
    // OpenSSL refuses a key that does not match the certificate loaded before it.
    load("key", f.key, [&](auto& ec) { ctx.use_private_key_file(f.key, ssl::context::pem, ec); });
}

/// OpenSSL 3.0 caches a certificate's extension data (key identifiers, purpose flags) on first use, and two
/// threads verifying chains against the same CA certificate at once can both write that cache while the other
/// reads it (openssl/openssl#25202, found by the TSan stage: two `aftershock load --tls` client threads). Filling
/// the cache here, while the context is still private to one thread, leaves nothing for the handshakes to write.
void cache_certificate_extensions(TlsContext& ctx) {
    SSL_CTX* native = ctx.native_handle();
    const auto cache = [](X509* x) {
        if (x != nullptr) (void)X509_check_purpose(x, -1, 0);  // purpose -1: only compute the cached extensions
    };
    if (X509_STORE* store = SSL_CTX_get_cert_store(native)) {
        STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
        for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) cache(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)));
    }
    cache(SSL_CTX_get0_certificate(native));
    STACK_OF(X509)* chain = nullptr;
    if (SSL_CTX_get0_chain_certs(native, &chain) == 1 && chain != nullptr) {
        for (int i = 0; i < sk_X509_num(chain); ++i) cache(sk_X509_value(chain, i));
    }
}

}  // namespace

std::shared_ptr<TlsContext> make_server_tls(const TlsFiles& f) {
    ensure<UsageError>(!f.cert.empty() && !f.key.empty(), "TLS needs both a certificate and a key file");
    auto ctx = base_context(ssl::context::tls_server);
    use_identity(*ctx, f);
    if (!f.ca.empty()) {
        load("CA", f.ca, [&](auto& ec) { ctx->load_verify_file(f.ca, ec); });
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    cache_certificate_extensions(*ctx);
    return ctx;
}

std::shared_ptr<TlsContext> make_client_tls(const TlsFiles& f) {
    ensure<UsageError>(f.cert.empty() == f.key.empty(), "a TLS client certificate needs its key, and a key its certificate");
    auto ctx = base_context(ssl::context::tls_client);
    if (f.ca.empty()) {
        ctx->set_default_verify_paths();
    } else {
        load("CA", f.ca, [&](auto& ec) { ctx->load_verify_file(f.ca, ec); });
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (!f.cert.empty()) use_identity(*ctx, f);
    cache_certificate_extensions(*ctx);
    return ctx;
}

}  // namespace aftershock::net
