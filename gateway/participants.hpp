// Who may trade: the operator's participants file, and challenge-response authentication against it.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "matcher/market.hpp"

namespace ewx::gateway {

enum class Role { enterprise, provider, auditor };

struct Participant {
  std::string name;
  Role role = Role::enterprise;
  ParticipantId account = 0;
  std::vector<std::uint8_t> secret;  // 32 bytes or more
};

using Mac = std::array<std::uint8_t, 32>;  // HMAC-SHA256

class Participants {
 public:
  // Parses the participants file (format in participants.cpp). Throws InputError naming the line.
  static Participants parse(std::string_view text, const std::string& file_name);

  const Participant* find(std::string_view name) const;
  std::size_t size() const { return by_name_.size(); }
  // Every participant of `role`, by account.
  std::vector<const Participant*> with_role(Role role) const;

 private:
  std::unordered_map<std::string, Participant> by_name_;
};

// The text of a participants file for a new exchange, each participant with a fresh 32-byte secret:
// enterprise-001.. from account 1, provider-001.. from 100000 and auditor-1.. from 900000 (the numbering
// ewx-gen's markets use). What `ewx admin participants` prints and ewxd writes on first start.
std::string new_participants_file(int enterprises, int providers, int auditors);
const char* role_name(Role role);

// 32 bytes from the operating system's cryptographic generator (OpenSSL RAND_bytes).
std::vector<std::uint8_t> fresh_challenge();

Mac hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message);

// True when `response` is HMAC-SHA256(participant's secret, challenge), compared in constant time.
bool authenticates(const Participant& participant, std::span<const std::uint8_t> challenge,
                   std::span<const std::uint8_t> response);

}  // namespace ewx::gateway
