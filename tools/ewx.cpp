// ewx: the command line of the exchange. Trading commands talk to a running ewxd (tools/ewx_trade.hpp);
// auditor and operator commands work on a data directory directly (offline, or on a checkpoint).
//
//   ewx bid --hub H --class C --units N --price P [--latency MS] [--green %] [--from T --to T]
//   ewx offer --cluster K --class C --units N --price P [--green %] [--from T --to T]
//   ewx cancel ID | ewx orders | ewx contracts [--by F --key K] | ewx watch [--count N] [--seconds S]
//       (connection: --server HOST:PORT, --participant NAME, --secret-file F | EWX_SECRET | --participants F,
//        --tls [--ca FILE]; exit status 0 done, 1 bad input, 3 rejected, 5 cannot connect or log in)
//   ewx admin participants [--enterprises N] [--providers N] [--auditors N]   a new participants file
//   ewx audit verify   [--data-dir D] [--public-key HEX]   recompute the log, chain and signatures
//   ewx audit batch N  [--data-dir D] [--inputs DIR]       re-check one clearing from its stored inputs
//                                                          (--inputs: write them out as files instead)
//   ewx audit contract ID [--data-dir D]                   a contract with its inclusion proof, verified
//   ewx audit head     [--data-dir D]                      the latest signed log head
//   ewx audit report   [--data-dir D] [--from-batch N] [--to-batch M] [--csv DIR]
//                                                          what traded: clusters, prices, flows
//   ewx admin checkpoint DIR [--data-dir D]                online, consistent copy of the ledger
//
// Exit status: 0 fine, 1 cannot read the data directory, 2 usage, 4 a check failed.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "ledger/audit.hpp"
#include "ledger/hex.hpp"
#include "ledger/ledger.hpp"
#include "tools/ewx_trade.hpp"
#include "tools/market_report.hpp"

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

// Writes batch `number`'s stored inputs as files anyone can clear again with any solver: ewx-solve, or
// another implementation of docs/clearing.md.
int run_export_inputs(const std::string& dir, std::uint64_t number, const std::string& out) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::open_for_audit(dir);
  if (!opened.is_ok()) {
    fmt::print(stderr, "ewx: {}\n", opened.status().message());
    return kUnreadable;
  }
  const auto inputs = opened.value()->batch_inputs(number);
  if (!inputs) {
    fmt::print(stderr, "ewx: there is no batch {} in {}\n", number, dir);
    return kUnreadable;
  }
  std::filesystem::create_directories(out);
  const auto batch_file = std::filesystem::path(out) / fmt::format("batch-{}.batch", number);
  const auto topology_file = std::filesystem::path(out) / fmt::format("batch-{}.topology", number);
  for (const auto& [path, text] :
       {std::pair{batch_file, &inputs->batch}, std::pair{topology_file, &inputs->topology}}) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    const bool written = file && std::fwrite(text->data(), 1, text->size(), file) == text->size();
    if (!file || std::fclose(file) != 0 || !written) {
      fmt::print(stderr, "ewx: cannot write {}\n", path.string());
      return kUnreadable;
    }
  }
  fmt::print("batch {} inputs: {} and {} (ewx-solve {} --topology {} --check)\n", number, batch_file.string(),
             topology_file.string(), batch_file.string(), topology_file.string());
  return kFine;
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

int run_new_participants(int enterprises, int providers, int auditors) {
  fmt::print("{}", ewx::gateway::new_participants_file(enterprises, providers, auditors));
  return kFine;
}

// Adds the trading subcommands and their connection options; returns the one chosen to run, once parsed.
struct Trading {
  ewx::tools::Connection connection;
  ewx::gateway::OrderRequest order;
  ewx::gateway::OfferRequest offer;
  std::string from, to;
  std::uint64_t id = 0;
  std::string by;
  std::uint64_t key = 0, start = 0, count = 0;
  std::uint32_t limit = 100;
  int seconds = 0;
  bool no_batches = false, no_contracts = false;
  CLI::App *bid = nullptr, *offer_command = nullptr, *cancel = nullptr, *orders = nullptr, *contracts = nullptr,
           *watch = nullptr;
};

void add_trading(CLI::App& app, Trading& t) {
  auto& c = t.connection;
  app.add_option("--server", c.server, "the exchange, host:port")->envname("EWX_SERVER")->capture_default_str();
  app.add_option("--participant", c.participant, "who you are")->envname("EWX_PARTICIPANT");
  app.add_option("--secret-file", c.secret_file, "file holding your secret in hex (or set EWX_SECRET)");
  app.add_option("--participants", c.participants_file, "read the secret from the operator's participants file");
  app.add_flag("--tls", c.tls, "connect with TLS");
  app.add_option("--ca", c.ca_file, "TLS: the CA certificate to verify the server with (default: the system's)");

  const auto window = [&](CLI::App* command) {
    command->add_option("--from", t.from, "delivery window start, UTC hour: 2026-11-23T08 (default: next hour)");
    command->add_option("--to", t.to, "delivery window end, exclusive (default: 24 hours after --from)");
  };
  t.bid = app.add_subcommand("bid", "place a buy order (enterprises)");
  t.bid->add_option("--hub", t.order.hub, "your hub, e.g. yrd, bth, gba")->required();
  t.bid->add_option("--class", t.order.resource_class, "resource class, e.g. gpu.h100")->required();
  t.bid->add_option("--units", t.order.units, "units wanted")->required();
  t.bid->add_option("--price", t.order.bid, "limit price, fen per unit-hour, transfer included")->required();
  t.bid->add_option("--latency", t.order.max_latency_ms, "maximum latency to the serving cluster, ms")->default_val(40);
  t.bid->add_option("--green", t.order.min_green_percent, "minimum green-energy share, %")->default_val(0);
  t.bid->add_option("--client-id", t.order.client_order_id, "your id for it; resending it never creates a second");
  window(t.bid);

  t.offer_command = app.add_subcommand("offer", "post a capacity offer (providers)");
  t.offer_command->add_option("--cluster", t.offer.cluster, "your cluster, e.g. ningxia, guian")->required();
  t.offer_command->add_option("--class", t.offer.resource_class, "resource class, e.g. gpu.h100")->required();
  t.offer_command->add_option("--units", t.offer.units, "units offered")->required();
  t.offer_command->add_option("--price", t.offer.ask, "reserve price, fen per unit-hour")->required();
  t.offer_command->add_option("--green", t.offer.green_percent, "green-energy share, %")->default_val(0);
  t.offer_command->add_option("--client-id", t.offer.client_order_id, "your id for it");
  window(t.offer_command);

  t.cancel = app.add_subcommand("cancel", "cancel one of your open orders or offers");
  t.cancel->add_option("id", t.id, "the exchange's id")->required();
  t.orders = app.add_subcommand("orders", "your open orders or offers");
  t.contracts = app.add_subcommand("contracts", "your contracts (auditors: any, by a filter)");
  t.contracts->add_option("--by", t.by, "auditors: buyer, seller, hub, cluster or batch");
  t.contracts->add_option("--key", t.key, "auditors: the account, hub or cluster index, or batch number");
  t.contracts->add_option("--start", t.start, "page: contracts with ids from this one on");
  t.contracts->add_option("--limit", t.limit, "page size (at most 1000)")->capture_default_str();
  t.watch = app.add_subcommand("watch", "stream batch results and your fills and contracts");
  t.watch->add_option("--count", t.count, "stop after this many notices (0: never)");
  t.watch->add_option("--seconds", t.seconds, "stop after this long (0: never)");
  t.watch->add_flag("--no-batches", t.no_batches, "leave out batch summaries");
  t.watch->add_flag("--no-contracts", t.no_contracts, "leave out your fills and contracts");
}

std::optional<int> run_trading(Trading& t, bool json) {
  t.connection.json = json;
  const auto window = [&](ewx::Hour& begin, ewx::Hour& end) -> bool {
    const ewx::Hour next = static_cast<ewx::Hour>(std::time(nullptr) / 3600) + 1;
    const auto b = t.from.empty() ? std::optional<ewx::Hour>(next) : ewx::tools::parse_hour(t.from);
    if (!b) return fmt::print(stderr, "ewx: --from '{}': expected 2026-11-23T08 or hours since 1970\n", t.from), false;
    const auto e = t.to.empty() ? std::optional<ewx::Hour>(*b + 24) : ewx::tools::parse_hour(t.to);
    if (!e) return fmt::print(stderr, "ewx: --to '{}': expected 2026-11-23T08 or hours since 1970\n", t.to), false;
    begin = *b;
    end = *e;
    return true;
  };
  if (*t.bid) {
    if (!window(t.order.window_begin, t.order.window_end)) return ewx::tools::kTradeBadInput;
    return ewx::tools::run_bid(t.connection, t.order);
  }
  if (*t.offer_command) {
    if (!window(t.offer.window_begin, t.offer.window_end)) return ewx::tools::kTradeBadInput;
    return ewx::tools::run_offer(t.connection, t.offer);
  }
  if (*t.cancel) return ewx::tools::run_cancel(t.connection, t.id);
  if (*t.orders) return ewx::tools::run_orders(t.connection);
  if (*t.contracts) return ewx::tools::run_contracts(t.connection, t.by, t.key, t.start, t.limit);
  if (*t.watch) return ewx::tools::run_watch(t.connection, !t.no_batches, !t.no_contracts, t.count, t.seconds);
  return std::nullopt;
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
  std::string inputs_dir;
  batch->add_option("--inputs", inputs_dir, "instead, write the batch's stored inputs (batch and topology files) here");
  std::uint64_t id = 0;
  CLI::App* contract = audit->add_subcommand("contract", "show a contract and verify its inclusion proof");
  contract->add_option("id", id, "contract id (its position in the log)")->required();
  CLI::App* head = audit->add_subcommand("head", "show the latest signed log head");
  std::uint64_t from_batch = 1, to_batch = UINT64_MAX;
  std::string csv_dir;
  CLI::App* report = audit->add_subcommand("report", "what traded in a run of batches: clusters, prices, flows");
  report->add_option("--from-batch", from_batch, "first batch (default: 1)");
  report->add_option("--to-batch", to_batch, "last batch (default: the latest)");
  report->add_option("--csv", csv_dir, "also write batches.csv, clusters.csv and flows.csv to this directory");

  CLI::App* admin = app.add_subcommand("admin", "operator commands");
  admin->require_subcommand(1);
  std::string target;
  CLI::App* checkpoint = admin->add_subcommand("checkpoint", "write an online, consistent copy of the ledger");
  checkpoint->add_option("dir", target, "a new directory for the copy")->required();
  int enterprises = 40, providers = 12, auditors = 1;
  CLI::App* new_participants =
      admin->add_subcommand("participants", "print a new participants file with fresh secrets");
  new_participants->add_option("--enterprises", enterprises)->capture_default_str();
  new_participants->add_option("--providers", providers)->capture_default_str();
  new_participants->add_option("--auditors", auditors)->capture_default_str();

  Trading trading;
  add_trading(app, trading);

  CLI11_PARSE(app, argc, argv);
  if (const auto traded = run_trading(trading, json)) return *traded;
  if (*new_participants) return run_new_participants(enterprises, providers, auditors);
  if (*verify) return run_verify(dir, public_key, json);
  if (*batch)
    return inputs_dir.empty() ? run_audit_batch(dir, number, json) : run_export_inputs(dir, number, inputs_dir);
  if (*contract) return run_contract(dir, id, json);
  if (*head) return run_head(dir, json);
  if (*report) {
    if (const auto error = ewx::tools::print_trading_report(stdout, dir, from_batch, to_batch, csv_dir)) {
      fmt::print(stderr, "ewx: {}\n", *error);
      return kUnreadable;
    }
    return kFine;
  }
  if (*checkpoint) return run_checkpoint(dir, target);
  return 2;
}
