// The system OpenSSL as MailcredNet uses it. Only MailcredNet imports this module.
//
// Declarations come from OpenSSL's own headers, but nothing links libssl or libcrypto: lazy.c defines each
// function MailcredNet calls as a forwarder that dlopen()s libssl on first use. `mailcred get`, `list` and
// the git helper never touch TLS, so they never map OpenSSL (nor pay its relocations and initialisers).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

// Loads libssl (and through it libcrypto) once per process. NULL when loaded, else why it could not be —
// callers ask before their first OpenSSL call so that a missing library is an error, not an abort.
const char *mailcred_openssl_load(void);

// Callable stand-ins for OpenSSL's function-like macros, which Swift cannot import.

static inline int mailcred_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
  return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int mailcred_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
  return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long mailcred_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
  return SSL_CTX_set_mode(ctx, mode);
}

// Non-blocking writes may be retried from a different buffer address (Swift arrays move).
static inline long mailcred_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void) {
  return SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
}

// SSL_OP_* are built with SSL_OP_BIT(n), a function-like macro.
static inline uint64_t mailcred_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t mailcred_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
// OpenSSL otherwise keeps decrypted application data (token answers, a server's echo) in its read buffer
// until overwritten or freed without zeroing; with this it OPENSSL_cleanse()s it once handed over.
static inline uint64_t mailcred_SSL_OP_CLEANSE_PLAINTEXT(void) { return SSL_OP_CLEANSE_PLAINTEXT; }

static inline void mailcred_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }
