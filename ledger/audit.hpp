// What an auditor runs: full offline verification of a data directory, and the re-check of one clearing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "matcher/transportation.hpp"

namespace ewx::ledger {

struct VerifyReport {
  bool ok = false;
  std::string first_problem;  // names the record and what is wrong, when not ok
  std::uint64_t contracts = 0;
  std::uint64_t batches = 0;
  std::uint64_t journal_entries = 0;
};

// Recomputes the whole Merkle log from the stored contracts and checks it against the stored nodes and
// every batch record (log size and root), the chain of record hashes, every signature (with the key stored
// in the ledger, or `trusted_public_key` when given: 32 raw bytes), every inputs commitment, and that every
// journal entry reads. Stops at the first inconsistency and names it. Opens the ledger read-only.
VerifyReport verify_data_dir(const std::filesystem::path& dir,
                             const std::optional<std::string>& trusted_public_key = {});

struct BatchAudit {
  bool ok = false;
  std::string problem;
  std::uint64_t contracts = 0;
  Objective total_surplus = 0;
};

// Re-checks the clearing of batch `number` from its stored inputs: the recorded contracts at the recorded
// prices must be a competitive equilibrium (which proves their surplus maximal), a fresh exact clearing
// must reach the same total surplus and the same buyer-optimal prices, and its certificate must hold.
BatchAudit audit_batch(const std::filesystem::path& dir, std::uint64_t number);

}  // namespace ewx::ledger
