// The exchange's Ed25519 signing key: it signs every batch record (and so every log head).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/status.hpp"

namespace ewx::ledger {

class ExchangeKey {
 public:
  // Loads the PEM private key at `path`, creating it (mode 0600) if `create` and it does not exist.
  static Result<ExchangeKey> load(const std::filesystem::path& path, bool create);

  std::string sign(std::string_view message) const;  // 64 bytes
  std::string public_key() const;                    // 32 raw bytes

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY*, freed with EVP_PKEY_free
};

// Checks an Ed25519 signature against a raw 32-byte public key; no key file needed (what auditors run).
bool verify_signature(std::string_view public_key, std::string_view message, std::string_view signature);

}  // namespace ewx::ledger
