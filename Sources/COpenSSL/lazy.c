// OpenSSL loaded on first use. Every OpenSSL function MailcredNet (and shim.h's inline helpers) calls is
// defined here under its own name, with the prototype from OpenSSL's header (the compiler checks each one
// against it), and forwards through a table filled by dlsym() once. The definitions are hidden: they bind
// only this executable's own calls and are never exported, so they cannot interpose on libssl's calls
// into itself (nor on a test binary that links libssl for its servers). The C library's headers come
// first: what they declare keeps its default visibility (the pragma covers OpenSSL's declarations only).
#include <dlfcn.h>
#include <pthread.h>  // before the hidden-visibility headers: its declarations keep their visibility
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC visibility push(hidden)
#include "shim.h"
#pragma GCC visibility pop
#include "lazy-load.h"

#define MC_STR2(x) #x
#define MC_STR(x) MC_STR2(x)
// The soname the headers were built for: libssl.so.3 for OpenSSL 3.x.
#define MC_LIBSSL "libssl.so." MC_STR(OPENSSL_SHLIB_VERSION)

// X(return type, name, parameters, arguments); V for void functions (C forbids `return void-expression`).
#define MC_FUNCTIONS(X, V)                                                                           \
  X(const SSL_METHOD *, TLS_client_method, (void), ())                                                \
  X(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *meth), (meth))                                         \
  V(SSL_CTX_free, (SSL_CTX *ctx), (ctx))                                                              \
  X(long, SSL_CTX_ctrl, (SSL_CTX *ctx, int cmd, long larg, void *parg), (ctx, cmd, larg, parg))       \
  X(uint64_t, SSL_CTX_set_options, (SSL_CTX *ctx, uint64_t op), (ctx, op))                            \
  V(SSL_CTX_set_verify, (SSL_CTX *ctx, int mode, SSL_verify_cb callback), (ctx, mode, callback))      \
  X(int, SSL_CTX_set_default_verify_paths, (SSL_CTX *ctx), (ctx))                                     \
  X(int, SSL_CTX_load_verify_locations, (SSL_CTX *ctx, const char *CAfile, const char *CApath),       \
    (ctx, CAfile, CApath))                                                                            \
  X(SSL *, SSL_new, (SSL_CTX *ctx), (ctx))                                                            \
  V(SSL_free, (SSL *ssl), (ssl))                                                                      \
  X(long, SSL_ctrl, (SSL *ssl, int cmd, long larg, void *parg), (ssl, cmd, larg, parg))               \
  X(int, SSL_set_fd, (SSL *s, int fd), (s, fd))                                                       \
  X(int, SSL_set1_host, (SSL *s, const char *hostname), (s, hostname))                                \
  V(SSL_set_hostflags, (SSL *s, unsigned int flags), (s, flags))                                      \
  X(X509_VERIFY_PARAM *, SSL_get0_param, (SSL *ssl), (ssl))                                           \
  X(int, SSL_connect, (SSL *ssl), (ssl))                                                              \
  X(int, SSL_read, (SSL *ssl, void *buf, int num), (ssl, buf, num))                                   \
  X(int, SSL_write, (SSL *ssl, const void *buf, int num), (ssl, buf, num))                            \
  X(int, SSL_shutdown, (SSL *s), (s))                                                                 \
  X(int, SSL_get_error, (const SSL *s, int ret_code), (s, ret_code))                                  \
  X(int, SSL_is_init_finished, (const SSL *s), (s))                                                   \
  X(long, SSL_get_verify_result, (const SSL *ssl), (ssl))                                             \
  X(const char *, SSL_get_version, (const SSL *s), (s))                                               \
  X(X509 *, SSL_get1_peer_certificate, (const SSL *s), (s))                                           \
  V(X509_free, (X509 *a), (a))                                                                        \
  X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *param, const char *ipasc), (param, ipasc)) \
  X(const char *, X509_verify_cert_error_string, (long n), (n))                                       \
  X(const char *, X509_get_default_cert_dir, (void), ())                                              \
  X(const char *, X509_get_default_cert_dir_env, (void), ())                                          \
  X(const char *, X509_get_default_cert_file_env, (void), ())                                         \
  X(unsigned long, ERR_get_error, (void), ())                                                         \
  X(unsigned long, ERR_peek_error, (void), ())                                                        \
  X(unsigned long, ERR_peek_last_error, (void), ())                                                   \
  V(ERR_clear_error, (void), ())                                                                      \
  V(ERR_error_string_n, (unsigned long e, char *buf, size_t len), (e, buf, len))                      \
  V(CRYPTO_free, (void *ptr, const char *file, int line), (ptr, file, line))                          \
  X(const EVP_MD *, EVP_sha256, (void), ())                                                           \
  X(int, EVP_Digest, (const void *data, size_t count, unsigned char *md, unsigned int *size,          \
    const EVP_MD *type, ENGINE *impl), (data, count, md, size, type, impl))

// dlsym on libssl's handle also searches its dependency, libcrypto.
#define MC_LAZY_LOADER mailcred_openssl_load
MC_LAZY_LIBRARY("OpenSSL", MC_LIBSSL, RTLD_NOW | RTLD_LOCAL)
