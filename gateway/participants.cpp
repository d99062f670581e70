// The participants file and HMAC challenge-response.
//
//   # ewx participants
//   participant <name> <enterprise|provider|auditor> <account> <secret: 64+ hex digits>
//
// A session proves it knows its participant's secret without sending it: the server sends 32 fresh random
// bytes, the client answers HMAC-SHA256(secret, challenge), the server computes the same and compares in
// constant time (CRYPTO_memcmp), so neither a replayed answer nor the time a comparison takes gives an
// attacker anything. The file is the operator's; the exchange only reads it.
#include "gateway/participants.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "ledger/hex.hpp"
#include "matcher/line_scanner.hpp"

namespace ewx::gateway {

Participants Participants::parse(std::string_view text, const std::string& file_name) {
  Participants participants;
  std::unordered_map<ParticipantId, std::string> accounts;
  LineReader reader(text);
  std::string_view line;
  while (reader.next(line)) {
    LineScanner scan(line, file_name, reader.number());
    const std::string_view tag = scan.word();
    if (tag.empty() || tag.front() == '#') continue;
    if (tag != "participant") scan.fail("unknown line type " + quoted(tag) + " (expected participant)");
    Participant p;
    p.name = std::string(scan.required_word("participant name"));
    const std::string_view role = scan.required_word("role");
    if (role == "enterprise")
      p.role = Role::enterprise;
    else if (role == "provider")
      p.role = Role::provider;
    else if (role == "auditor")
      p.role = Role::auditor;
    else
      scan.fail("role " + quoted(role) + " is not enterprise, provider or auditor");
    p.account = static_cast<ParticipantId>(scan.integer_in("account", 1, INT64_MAX));
    const auto secret = from_hex(scan.required_word("secret"));
    if (!secret) scan.fail("the secret is not hex digits");
    if (secret->size() < 32)
      scan.fail("the secret has " + std::to_string(secret->size()) + " bytes; at least 32 are needed");
    p.secret = *secret;
    scan.finish();
    if (participants.by_name_.count(p.name)) scan.fail("participant " + quoted(p.name) + " appears twice");
    if (const auto [it, added] = accounts.emplace(p.account, p.name); !added) {
      scan.fail("account " + std::to_string(p.account) + " is already " + it->second + "'s");
    }
    participants.by_name_.emplace(p.name, std::move(p));
  }
  return participants;
}

const Participant* Participants::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &it->second;
}

std::vector<const Participant*> Participants::with_role(Role role) const {
  std::vector<const Participant*> found;
  for (const auto& [name, p] : by_name_)
    if (p.role == role) found.push_back(&p);
  std::sort(found.begin(), found.end(),
            [](const Participant* a, const Participant* b) { return a->account < b->account; });
  return found;
}

const char* role_name(Role role) {
  switch (role) {
    case Role::enterprise:
      return "enterprise";
    case Role::provider:
      return "provider";
    case Role::auditor:
      return "auditor";
  }
  return "?";
}

std::string new_participants_file(int enterprises, int providers, int auditors) {
  std::string text = "# ewx participants: participant <name> <role> <account> <secret>. Keep this file private.\n";
  const auto add = [&](const char* name_format, int k, Role role, ParticipantId account) {
    char name[32];
    std::snprintf(name, sizeof name, name_format, k);
    text += std::string("participant ") + name + " " + role_name(role) + " " + std::to_string(account) + " " +
            to_hex(fresh_challenge()) + "\n";
  };
  for (int k = 1; k <= enterprises; ++k) add("enterprise-%03d", k, Role::enterprise, static_cast<ParticipantId>(k));
  for (int k = 1; k <= providers; ++k) add("provider-%03d", k, Role::provider, 99'999 + static_cast<ParticipantId>(k));
  for (int k = 1; k <= auditors; ++k) add("auditor-%d", k, Role::auditor, 899'999 + static_cast<ParticipantId>(k));
  return text;
}

std::vector<std::uint8_t> fresh_challenge() {
  std::vector<std::uint8_t> nonce(32);
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return nonce;
}

Mac hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message) {
  Mac mac{};
  std::size_t length = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), message.data(), message.size(),
                 mac.data(), mac.size(), &length) ||
      length != mac.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return mac;
}

bool authenticates(const Participant& participant, std::span<const std::uint8_t> challenge,
                   std::span<const std::uint8_t> response) {
  if (response.size() != 32) return false;
  const Mac expected = hmac_sha256(participant.secret, challenge);
  return CRYPTO_memcmp(expected.data(), response.data(), expected.size()) == 0;
}

}  // namespace ewx::gateway
