// The gateway's building blocks: participants and HMAC challenge-response, and submission checks.
#include <doctest/doctest.h>

#include "gateway/participants.hpp"
#include "gateway/submission.hpp"
#include "matcher/line_scanner.hpp"

using namespace ewx;
using namespace ewx::gateway;

namespace {

std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

const std::string kSecret(64, 'a');  // 32 bytes of 0xaa
const std::string kFile =
    "# operator's participants\n"
    "participant acme-shanghai enterprise 1 " +
    kSecret +
    "\n"
    "participant ningxia-cloud provider 100000 " +
    std::string(64, 'B') +
    "\n"
    "participant audit-office auditor 900 " +
    std::string(66, '0') + "\n";

std::string error_of(const std::string& text) {
  try {
    Participants::parse(text, "keys");
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2") {
  const Mac mac = hmac_sha256(bytes("Jefe"), bytes("what do ya want for nothing?"));
  static const std::uint8_t expected[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                            0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                            0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  CHECK(std::equal(mac.begin(), mac.end(), expected));
}

TEST_CASE("the participants file is read, and its mistakes are named with the line") {
  const Participants participants = Participants::parse(kFile, "keys");
  CHECK(participants.size() == 3);
  const Participant* acme = participants.find("acme-shanghai");
  REQUIRE(acme);
  CHECK(acme->role == Role::enterprise);
  CHECK(acme->account == 1);
  CHECK(acme->secret == std::vector<std::uint8_t>(32, 0xaa));
  CHECK(participants.find("ningxia-cloud")->role == Role::provider);
  CHECK(participants.find("audit-office")->secret.size() == 33);
  CHECK_FALSE(participants.find("nobody"));

  CHECK(error_of("participant a trader 1 " + kSecret + "\n") ==
        "keys:1: role 'trader' is not enterprise, provider or auditor");
  CHECK(error_of("participant a enterprise 1 abcd\n") == "keys:1: the secret has 2 bytes; at least 32 are needed");
  CHECK(error_of("participant a enterprise 1 " + std::string(64, 'x') + "\n") ==
        "keys:1: the secret is not hex digits");
  CHECK(error_of("participant a enterprise 0 " + kSecret + "\n") ==
        "keys:1: account 0 is outside 1..9223372036854775807");
  CHECK(error_of(kFile + "participant acme-shanghai provider 7 " + kSecret + "\n") ==
        "keys:5: participant 'acme-shanghai' appears twice");
  CHECK(error_of(kFile + "participant other provider 100000 " + kSecret + "\n") ==
        "keys:5: account 100000 is already ningxia-cloud's");
  CHECK(error_of("key a b\n") == "keys:1: unknown line type 'key' (expected participant)");
}

TEST_CASE("challenge-response authentication") {
  const Participants participants = Participants::parse(kFile, "keys");
  const Participant& acme = *participants.find("acme-shanghai");
  const std::vector<std::uint8_t> challenge = fresh_challenge();
  CHECK(challenge.size() == 32);
  CHECK(fresh_challenge() != challenge);

  const Mac good = hmac_sha256(std::vector<std::uint8_t>(32, 0xaa), challenge);
  CHECK(authenticates(acme, challenge, good));
  Mac flipped = good;
  flipped[31] ^= 1;
  CHECK_FALSE(authenticates(acme, challenge, flipped));
  CHECK_FALSE(authenticates(acme, fresh_challenge(), good));  // a replayed answer to an old challenge
  CHECK_FALSE(authenticates(acme, challenge, std::span<const std::uint8_t>(good.data(), 31)));
  CHECK_FALSE(authenticates(*participants.find("ningxia-cloud"), challenge, good));
}

TEST_CASE("submissions become journal entries, or rejects that name the field") {
  const Participants participants = Participants::parse(kFile, "keys");
  const Participant& acme = *participants.find("acme-shanghai");
  const Participant& ningxia = *participants.find("ningxia-cloud");
  const Topology& topology = default_topology();

  const auto order = [&](const char* hub, const char* cls, std::int64_t units, std::int64_t end,
                         const Participant& who) {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(wire::CreateSubmitOrderDirect(b, 42, hub, cls, units, 2650, 30, 0, 493'086, end));
    return order_entry(*flatbuffers::GetRoot<wire::SubmitOrder>(b.GetBufferPointer()), who, 7, topology);
  };
  const Submission ok = order("yrd", "gpu.h100", 16, 493'090, acme);
  REQUIRE(std::holds_alternative<ledger::JournalEntry>(ok));
  const auto& entry = std::get<ledger::JournalEntry>(ok);
  CHECK(entry.kind == ledger::JournalEntry::Kind::order);
  CHECK(entry.participant == 1);
  CHECK(entry.order.id == 7);
  CHECK(entry.order.hub == *topology.find_hub("yrd"));
  CHECK(entry.resource_class == "gpu.h100");
  CHECK(entry.order.bid == 2650);

  const auto rejected = [](const Submission& s) { return std::get<Rejection>(s); };
  CHECK(rejected(order("yrd", "gpu.h100", 16, 493'090, ningxia)).code == wire::RejectCode::forbidden);
  CHECK(rejected(order("mars", "gpu.h100", 16, 493'090, acme)).reason.starts_with("unknown hub 'mars' (hubs: bth, "));
  CHECK(rejected(order("mars", "gpu.h100", 16, 493'090, acme)).code == wire::RejectCode::unknown_hub_or_cluster);
  CHECK(rejected(order("yrd", "gpu h100", 16, 493'090, acme)).reason.find("space") != std::string::npos);
  // What a client sent comes back in a reason (and in ewxd's log) escaped and cut short, never raw.
  const std::string hostile_hub = "\x1b]0;pwned\x07" + std::string(100, 'x');
  CHECK(rejected(order(hostile_hub.c_str(), "gpu.h100", 16, 493'090, acme))
            .reason.starts_with("unknown hub '\\x1b]0;pwned\\x07" + std::string(38, 'x') + "...' (hubs: "));
  CHECK(rejected(order("yrd", "gpu\th100", 16, 493'090, acme)).reason ==
        "resource class 'gpu\\x09h100' has a space or a non-printable character");
  CHECK(rejected(order("yrd", "gpu.h100", 0, 493'090, acme)).reason == "units 0 is outside 1..1000000000");
  CHECK(rejected(order("yrd", "gpu.h100", 16, 493'086, acme)).reason == "empty window [493086, 493086)");

  flatbuffers::FlatBufferBuilder b;
  b.Finish(wire::CreateSubmitOffer(b, 1));  // no cluster, no class
  CHECK(std::get<Rejection>(
            offer_entry(*flatbuffers::GetRoot<wire::SubmitOffer>(b.GetBufferPointer()), ningxia, 9, topology))
            .reason == "cluster: missing");
  flatbuffers::FlatBufferBuilder c;
  c.Finish(wire::CreateSubmitOfferDirect(c, 1, "zhongwei", "gpu.h100", 64, 1980, 85, 493'080, 493'120));
  const Submission offer =
      offer_entry(*flatbuffers::GetRoot<wire::SubmitOffer>(c.GetBufferPointer()), ningxia, 9, topology);
  REQUIRE(std::holds_alternative<ledger::JournalEntry>(offer));
  CHECK(std::get<ledger::JournalEntry>(offer).offer.cluster == *topology.find_cluster("zhongwei"));
  CHECK(std::get<ledger::JournalEntry>(offer).participant == 100000);
  CHECK(std::holds_alternative<Rejection>(
      offer_entry(*flatbuffers::GetRoot<wire::SubmitOffer>(c.GetBufferPointer()), acme, 9, topology)));
}
