// Ed25519 through OpenSSL's EVP interface (the one-shot EVP_DigestSign, as Ed25519 requires).
//
// The private key lives in the data directory as PEM, readable by the exchange's user only; the raw public
// key is also stored in the ledger itself, so an offline verifier needs only the data directory (and can be
// given a public key it trusts independently, to detect a replaced key).
#include "ledger/exchange_key.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace ewx::ledger {
namespace {

std::shared_ptr<void> own(EVP_PKEY* key) {
  return std::shared_ptr<void>(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
}

}  // namespace

Result<ExchangeKey> ExchangeKey::load(const std::filesystem::path& path, bool create) {
  ExchangeKey key;
  if (std::FILE* file = std::fopen(path.c_str(), "rb")) {
    EVP_PKEY* pkey = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    if (!pkey || EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
      if (pkey) EVP_PKEY_free(pkey);
      return Status::error(Status::Code::corruption, path.string() + " is not an Ed25519 private key");
    }
    key.key_ = own(pkey);
    return key;
  }
  if (!create) return Status::error(Status::Code::not_found, "no exchange key at " + path.string());
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  const bool made = context && EVP_PKEY_keygen_init(context) == 1 && EVP_PKEY_keygen(context, &pkey) == 1;
  EVP_PKEY_CTX_free(context);
  if (!made) return Status::error(Status::Code::io_error, "could not generate an Ed25519 key");
  key.key_ = own(pkey);
  const mode_t old_mask = umask(077);
  std::FILE* file = std::fopen(path.c_str(), "wbx");
  umask(old_mask);
  if (!file) return Status::error(Status::Code::io_error, "cannot create " + path.string());
  const bool written = PEM_write_PrivateKey(file, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  const bool closed = std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  std::fclose(file);
  if (!written || !closed) return Status::error(Status::Code::io_error, "cannot write " + path.string());
  return key;
}

std::string ExchangeKey::sign(std::string_view message) const {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  std::string signature(64, '\0');
  std::size_t length = signature.size();
  const bool ok = context &&
                  EVP_DigestSignInit(context, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_.get())) == 1 &&
                  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &length,
                                 reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(context);
  if (!ok || length != 64) throw std::runtime_error("Ed25519 signing failed");
  return signature;
}

std::string ExchangeKey::public_key() const {
  std::string raw(32, '\0');
  std::size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(static_cast<EVP_PKEY*>(key_.get()), reinterpret_cast<unsigned char*>(raw.data()),
                                  &length) != 1 ||
      length != 32) {
    throw std::runtime_error("cannot read the Ed25519 public key");
  }
  return raw;
}

bool verify_signature(std::string_view public_key, std::string_view message, std::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(public_key.data()), 32);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = key && context && EVP_DigestVerifyInit(context, nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()), 64,
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(context);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace ewx::ledger
