// ewx: the command line of the exchange. Today its auditor and operator commands, which work on a data
// directory directly (offline, or on a checkpoint); trading commands arrive with the gateway.
//
//   ewx audit verify   [--data-dir D] [--public-key HEX]   recompute the log, chain and signatures
//   ewx audit batch N  [--data-dir D]                      re-check one clearing from its stored inputs
//   ewx audit contract ID [--data-dir D]                   a contract with its inclusion proof, verified
//   ewx audit head     [--data-dir D]                      the latest signed log head
//   ewx admin checkpoint DIR [--data-dir D]                online, consistent copy of the ledger
//
// Exit status: 0 fine, 1 cannot read the data directory, 2 usage, 4 a check failed.
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "ledger/audit.hpp"
#include "ledger/hex.hpp"
#include "ledger/ledger.hpp"

namespace {

using namespace ewx::ledger;
enum ExitCode { kFine = 0, kUnreadable = 1, kCheckFailed = 4 };

std::string hex(std::string_view bytes) {
  return ewx::to_hex({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

int run_verify(const std::string& dir, const std::string& public_key_hex, bool json) {
  std::optional<std::string> trusted;
  if (!public_key_hex.empty()) {
    const auto key = ewx::from_hex(public_key_hex);
    if (key) trusted = std::string(key->begin(), key->end());
    if (!trusted || trusted->size() != 32) {
      fmt::print(stderr, "ewx: --public-key must be 64 hex digits (a raw Ed25519 key)\n");
      return 2;
    }
  }
  const VerifyReport report = verify_data_dir(dir, trusted);
  if (json) {
    fmt::print("{{\"ok\": {}, \"contracts\": {}, \"batches\": {}, \"journal_entries\": {}, \"problem\": \"{}\"}}\n",
               report.ok, report.contracts, report.batches, report.journal_entries, report.first_problem);
  } else if (report.ok) {
    fmt::print("verified: {} contracts in {} batch{}, {} journal entries; log, chain and signatures consistent\n",
               report.contracts, report.batches, report.batches == 1 ? "" : "es", report.journal_entries);
  } else {
    fmt::print("FAILED: {}\n", report.first_problem);
  }
  return report.ok ? kFine : kCheckFailed;
}

int run_audit_batch(const std::string& dir, std::uint64_t number, bool json) {
  const BatchAudit audit = audit_batch(dir, number);
  if (json) {
    fmt::print("{{\"ok\": {}, \"batch\": {}, \"contracts\": {}, \"total_surplus\": \"{}\", \"problem\": \"{}\"}}\n",
               audit.ok, number, audit.contracts, ewx::to_string(audit.total_surplus), audit.problem);
  } else if (audit.ok) {
    fmt::print(
        "batch {}: {} contracts re-checked: competitive equilibrium at the recorded prices, maximum surplus {} "
        "fen/h confirmed by a fresh exact clearing and its certificate\n",
        number, audit.contracts, ewx::to_string(audit.total_surplus));
  } else {
    fmt::print("batch {}: FAILED: {}\n", number, audit.problem);
  }
  return audit.ok ? kFine : kCheckFailed;
}

int run_contract(const std::string& dir, std::uint64_t id, bool json) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::open_for_audit(dir);
  if (!opened.is_ok()) {
    fmt::print(stderr, "ewx: {}\n", opened.status().message());
    return kUnreadable;
  }
  const Ledger& ledger = *opened.value();
  const auto contract = ledger.contract(id);
  const std::optional<BatchRecord> last = ledger.last_batch_record();
  if (!contract || !last) {
    fmt::print(stderr, "ewx: no contract {} in {}\n", id, dir);
    return kUnreadable;
  }
  const auto proof = ledger.inclusion_proof(id, last->log_size);
  const bool included =
      proof && verify_inclusion(leaf_hash(encode(*contract)), id, last->log_size, *proof, last->log_root);
  if (json) {
    std::string path;
    for (std::size_t k = 0; proof && k < proof->size(); ++k)
      path += fmt::format("{}\"{}\"", k ? ", " : "", to_hex((*proof)[k]));
    fmt::print(
        "{{\"id\": {}, \"batch\": {}, \"order\": {}, \"offer\": {}, \"buyer\": {}, \"seller\": {}, \"units\": {}, "
        "\"price\": {}, \"transfer_charge\": {}, \"class\": \"{}\", \"log_size\": {}, \"log_root\": \"{}\", "
        "\"inclusion_proof\": [{}], \"included\": {}}}\n",
        contract->id, contract->batch, contract->order, contract->offer, contract->buyer, contract->seller,
        contract->units, contract->price, contract->transfer_charge, contract->resource_class, last->log_size,
        to_hex(last->log_root), path, included);
  } else {
    fmt::print("contract {} (batch {}): order {} <- offer {}, {} units of {} at {} fen/unit-hour + {} transfer\n",
               contract->id, contract->batch, contract->order, contract->offer, contract->units,
               contract->resource_class, contract->price, contract->transfer_charge);
    fmt::print("buyer {}, seller {}; delivery hours [{}, {})\n", contract->buyer, contract->seller,
               contract->window_begin, contract->window_end);
    fmt::print("inclusion in the log of {} (root {}): {} ({} proof hashes)\n", last->log_size, to_hex(last->log_root),
               included ? "verified" : "FAILED", proof ? proof->size() : 0);
  }
  return included ? kFine : kCheckFailed;
}

int run_head(const std::string& dir, bool json) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::open_for_audit(dir);
  if (!opened.is_ok()) {
    fmt::print(stderr, "ewx: {}\n", opened.status().message());
    return kUnreadable;
  }
  const std::optional<BatchRecord> last = opened.value()->last_batch_record();
  const std::string key = opened.value()->stored_public_key();
  const bool signed_ok = last && verify_signature(key, signed_bytes(*last), last->signature);
  if (json) {
    fmt::print(
        "{{\"batch\": {}, \"log_size\": {}, \"log_root\": \"{}\", \"cleared_at\": {}, \"signature\": \"{}\", "
        "\"public_key\": \"{}\", \"signature_valid\": {}}}\n",
        last ? last->number : 0, last ? last->log_size : 0, to_hex(last ? last->log_root : empty_tree_hash()),
        last ? last->cleared_at : 0, last ? hex(last->signature) : "", hex(key), signed_ok);
  } else if (!last) {
    fmt::print("empty log (no batch recorded yet); exchange key {}\n", hex(key));
  } else {
    fmt::print("head after batch {}: {} contracts, root {}\nsigned by {} ({})\n", last->number, last->log_size,
               to_hex(last->log_root), hex(key), signed_ok ? "signature valid" : "SIGNATURE INVALID");
  }
  return !last || signed_ok ? kFine : kCheckFailed;
}

int run_checkpoint(const std::string& dir, const std::string& target) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::open(dir, false);
  if (!opened.is_ok()) {
    fmt::print(stderr, "ewx: {}\n", opened.status().message());
    return kUnreadable;
  }
  const Status status = opened.value()->checkpoint(target);
  if (!status.is_ok()) {
    fmt::print(stderr, "ewx: {}\n", status.message());
    return kUnreadable;
  }
  fmt::print("checkpoint of {} written to {}\n", dir, target);
  return kFine;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ewx: the East-West compute exchange"};
  app.require_subcommand(1);
  app.fallthrough();  // --data-dir and --json work before or after the subcommand
  std::string dir = "ewx-data";
  bool json = false;
  app.add_option("--data-dir", dir, "the exchange's data directory")->capture_default_str();
  app.add_flag("--json", json, "machine-readable output");

  CLI::App* audit = app.add_subcommand("audit", "check the ledger as an auditor would");
  audit->require_subcommand(1);
  std::string public_key;
  CLI::App* verify = audit->add_subcommand("verify", "recompute the Merkle log, the record chain and every signature");
  verify->add_option("--public-key", public_key, "trust this Ed25519 key (64 hex digits) rather than the stored one");
  std::uint64_t number = 0;
  CLI::App* batch = audit->add_subcommand("batch", "re-check one batch's clearing from its stored inputs");
  batch->add_option("number", number, "batch number")->required();
  std::uint64_t id = 0;
  CLI::App* contract = audit->add_subcommand("contract", "show a contract and verify its inclusion proof");
  contract->add_option("id", id, "contract id (its position in the log)")->required();
  CLI::App* head = audit->add_subcommand("head", "show the latest signed log head");

  CLI::App* admin = app.add_subcommand("admin", "operator commands");
  admin->require_subcommand(1);
  std::string target;
  CLI::App* checkpoint = admin->add_subcommand("checkpoint", "write an online, consistent copy of the ledger");
  checkpoint->add_option("dir", target, "a new directory for the copy")->required();

  CLI11_PARSE(app, argc, argv);
  if (*verify) return run_verify(dir, public_key, json);
  if (*batch) return run_audit_batch(dir, number, json);
  if (*contract) return run_contract(dir, id, json);
  if (*head) return run_head(dir, json);
  if (*checkpoint) return run_checkpoint(dir, target);
  return 2;
}
