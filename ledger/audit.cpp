// Offline verification and batch re-checks.
//
// verify_data_dir trusts nothing the exchange computed: it rehashes every contract into a fresh Merkle
// frontier, and for each batch record compares the log size and root it signed with the recomputed ones,
// the hash chain to the previous record, the signature and the inputs commitment. A contract whose bytes
// were changed shows up twice (its leaf differs from the stored level-0 node, and the next root differs
// from the signed one); a removed contract shows up as a gap in the ids. The first problem is reported
// with the record it concerns, because an auditor needs to know where history was changed, not only that.
#include "ledger/audit.hpp"

#include <map>

#include "ledger/ledger.hpp"
#include "matcher/batch_file.hpp"
#include "matcher/certificate.hpp"
#include "matcher/clearing.hpp"
#include "matcher/equilibrium_check.hpp"

namespace ewx::ledger {
namespace {

VerifyReport problem(VerifyReport report, std::string what) {
  report.ok = false;
  report.first_problem = std::move(what);
  return report;
}

}  // namespace

VerifyReport verify_data_dir(const std::filesystem::path& dir, const std::optional<std::string>& trusted_public_key) {
  VerifyReport report;
  Result<std::unique_ptr<Ledger>> opened = Ledger::open_for_audit(dir);
  if (!opened.is_ok()) return problem(report, opened.status().message());
  const Ledger& ledger = *opened.value();
  const std::string public_key = trusted_public_key.value_or(ledger.stored_public_key());
  if (public_key.size() != 32) return problem(report, "no Ed25519 public key to verify signatures with");
  if (trusted_public_key && ledger.stored_public_key() != *trusted_public_key) {
    return problem(report, "the ledger's stored public key is not the trusted one");
  }

  std::string failure;
  Status scanned = Status::ok();
  std::vector<BatchRecord> records;
  scanned = ledger.scan(Ledger::Stored::batches, [&](std::uint64_t number, std::string_view value) {
    auto record = decode_batch_record(value);
    if (!record || record->number != number) {
      failure = "batch record " + std::to_string(number) + " is unreadable";
      return false;
    }
    records.push_back(std::move(*record));
    return true;
  });
  if (!failure.empty()) return problem(report, failure);
  if (!scanned.is_ok()) return problem(report, scanned.message());

  // Walk the contracts in id order, folding each into the frontier, and check every record at its size.
  Frontier frontier;
  std::size_t next_record = 0;
  Hash previous{};
  const auto check_record = [&](const BatchRecord& record) -> std::string {
    const std::string name = "batch record " + std::to_string(record.number);
    if (record.number != next_record + 1)
      return name + " is out of sequence (expected " + std::to_string(next_record + 1) + ")";
    if (record.previous_record != previous) return name + " does not chain to the record before it";
    if (record.log_size != record.first_contract + record.contract_count)
      return name + " has an inconsistent contract range";
    if (frontier.root() != record.log_root) return name + ": the contracts do not hash to the log root it signed";
    if (!verify_signature(public_key, signed_bytes(record), record.signature))
      return name + ": the signature does not verify";
    // One batch's inputs at a time; the decoder accepts exactly one encoding, so re-encoding gives the
    // stored bytes back.
    const auto stored = ledger.batch_inputs(record.number);
    if (!stored) return name + ": its inputs are missing or unreadable";
    if (sha256(encode(*stored)) != record.inputs) return name + ": its stored inputs do not match the commitment";
    previous = record_hash(record);
    ++next_record;
    return {};
  };
  std::uint64_t expected_id = 0;
  scanned = ledger.scan(Ledger::Stored::contracts, [&](std::uint64_t id, std::string_view value) {
    if (id != expected_id) {
      failure =
          "contract " + std::to_string(expected_id) + " is missing (the next stored one is " + std::to_string(id) + ")";
      return false;
    }
    while (next_record < records.size() && records[next_record].log_size == frontier.size()) {
      if (failure = check_record(records[next_record]); !failure.empty()) return false;
    }
    const auto contract = decode_contract(value);
    if (!contract || contract->id != id) {
      failure = "contract " + std::to_string(id) + " is unreadable";
      return false;
    }
    if (next_record >= records.size() || contract->batch != records[next_record].number) {
      failure = "contract " + std::to_string(id) + " is not covered by the batch record that should hold it";
      return false;
    }
    const Hash leaf = leaf_hash(value);
    for (const NewNode& node : frontier.append(leaf)) {
      if (node.level >= kFirstStoredMerkleLevel && ledger.merkle_node(node.level, node.index) != node.hash) {
        const std::uint64_t first = node.index << node.level, last = first + (std::uint64_t{1} << node.level) - 1;
        failure = "contracts " + std::to_string(first) + ".." + std::to_string(last) +
                  " do not hash to the stored Merkle node (" + std::to_string(node.level) + ", " +
                  std::to_string(node.index) + "): one of them was changed";
        return false;
      }
    }
    ++expected_id;
    return true;
  });
  if (!failure.empty()) return problem(report, failure);
  if (!scanned.is_ok()) return problem(report, scanned.message());
  while (next_record < records.size()) {
    if (records[next_record].log_size != frontier.size()) {
      return problem(report, "batch record " + std::to_string(records[next_record].number) +
                                 " covers contracts up to " + std::to_string(records[next_record].log_size) +
                                 " but only " + std::to_string(frontier.size()) + " are stored");
    }
    if (failure = check_record(records[next_record]); !failure.empty()) return problem(report, failure);
  }

  scanned = ledger.scan_journal([&](std::uint64_t, const JournalEntry&) {
    ++report.journal_entries;
    return true;
  });
  if (!scanned.is_ok()) return problem(report, scanned.message());

  report.ok = true;
  report.contracts = frontier.size();
  report.batches = records.size();
  return report;
}

BatchAudit audit_batch(const std::filesystem::path& dir, std::uint64_t number) {
  BatchAudit audit;
  const auto fail = [&](std::string why) {
    audit.problem = std::move(why);
    return audit;
  };
  Result<std::unique_ptr<Ledger>> opened = Ledger::open_for_audit(dir);
  if (!opened.is_ok()) return fail(opened.status().message());
  const Ledger& ledger = *opened.value();
  const auto record = ledger.batch_record(number);
  if (!record) return fail("there is no batch record " + std::to_string(number));
  const auto inputs = ledger.batch_inputs(number);
  if (!inputs || sha256(encode(*inputs)) != record->inputs)
    return fail("the stored inputs of batch " + std::to_string(number) + " are missing or altered");

  Topology topology;
  Batch batch;
  try {
    topology = parse_topology(inputs->topology, "stored topology");
    batch = parse_batch(inputs->batch, "stored batch " + std::to_string(number), topology);
  } catch (const std::exception& error) {
    return fail(error.what());
  }
  std::map<OfferId, Fen> recorded;
  for (const auto& [offer, price] : record->prices) recorded[offer] = price;
  std::vector<Fen> prices;
  for (const SellOffer& offer : batch.offers) {
    const auto it = recorded.find(offer.id);
    if (it == recorded.end()) return fail("offer " + std::to_string(offer.id) + " has no recorded price");
    prices.push_back(it->second);
  }
  std::vector<Contract> contracts;
  for (std::uint64_t id = record->first_contract; id < record->log_size; ++id) {
    const auto c = ledger.contract(id);
    if (!c) return fail("contract " + std::to_string(id) + " of the batch is missing or unreadable");
    contracts.push_back({c->order, c->offer, c->units, c->price, c->transfer_charge});
  }
  audit.contracts = contracts.size();

  const EquilibriumReport equilibrium = check_equilibrium(batch, topology, contracts, prices);
  if (!equilibrium.holds) return fail("the recorded clearing is not an equilibrium: " + equilibrium.failure);
  if (to_string(equilibrium.total_surplus) != record->total_surplus)
    return fail("the recorded total surplus does not match the contracts");
  const ClearingResult again = clear_batch(batch, topology);
  if (again.status != SolveStatus::optimal) return fail("the stored inputs do not clear: " + again.detail);
  if (again.total_surplus != equilibrium.total_surplus)
    return fail("a fresh clearing reaches a different total surplus");
  if (again.offer_price != prices) return fail("the recorded prices are not the buyer-optimal equilibrium prices");
  const CertificateReport certificate = check_certificate(again.graph.problem, again.solution);
  if (!certificate.optimal) return fail("the fresh clearing's certificate fails: " + certificate.failure);
  audit.ok = true;
  audit.total_surplus = equilibrium.total_surplus;
  return audit;
}

}  // namespace ewx::ledger
