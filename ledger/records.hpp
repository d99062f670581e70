// What the ledger stores, and its canonical byte encoding (fixed-width little-endian integers,
// length-prefixed strings), which is also what the Merkle log and the signatures commit to.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/merkle_log.hpp"
#include "matcher/market.hpp"

namespace ewx::ledger {

// One line of the order journal: an accepted order or offer, a cancel, or the fills of a cleared batch
// (which are that batch's contracts, in the contract log: [first_contract, first_contract + count)).
struct JournalEntry {
  enum class Kind : std::uint8_t { order = 1, offer = 2, cancel_order = 3, cancel_offer = 4, batch_fills = 5 };
  Kind kind = Kind::order;
  ParticipantId participant = 0;      // order, offer; cancels: who cancels (the owner, or 0 for the exchange itself)
  std::string resource_class;         // order, offer
  BuyOrder order;                     // order (its resource_class index is not stored; the name is)
  SellOffer offer;                    // offer
  std::uint64_t id = 0;               // cancels: the order or offer
  std::uint64_t client_order_id = 0;  // order, offer: the participant's own id, which makes resends idempotent
  std::uint64_t batch = 0;            // batch_fills
  std::uint64_t first_contract = 0;
  std::uint64_t count = 0;
};

// One settled contract: a leaf of the Merkle log. Its id is its position in the log.
struct ContractRecord {
  std::uint64_t id = 0;
  std::uint64_t batch = 0;
  OrderId order = 0;
  OfferId offer = 0;
  ParticipantId buyer = 0;
  ParticipantId seller = 0;
  Units units = 0;
  Fen price = 0;
  Fen transfer_charge = 0;
  std::uint16_t hub = 0;
  std::uint16_t cluster = 0;
  std::string resource_class;
  Hour window_begin = 0;
  Hour window_end = 0;
  bool operator==(const ContractRecord&) const = default;
};

// The record of one cleared batch: the log head after it, the chain to the previous record, a commitment to
// the batch's inputs, the clearing prices, and the exchange's signature over all of it.
struct BatchRecord {
  std::uint64_t number = 0;
  std::int64_t cleared_at = 0;  // Unix seconds
  std::uint64_t first_contract = 0;
  std::uint64_t contract_count = 0;
  std::uint64_t log_size = 0;  // = first_contract + contract_count
  Hash log_root{};
  Hash previous_record{};                       // hash of the previous batch record (zeros for the first)
  Hash inputs{};                                // SHA-256 of the stored inputs (topology and batch)
  std::string total_surplus;                    // decimal, fen per hour
  std::vector<std::pair<OfferId, Fen>> prices;  // every offer of the batch
  std::string signature;                        // Ed25519 over signed_bytes(), 64 bytes
};

// The journal entries that submit every order and offer of `batch`, each with its own participant.
std::vector<JournalEntry> submissions_of(const Batch& batch);

std::string encode(const JournalEntry& entry);
std::optional<JournalEntry> decode_journal_entry(std::string_view bytes);
// A journal record holds one entry or a group written together (records.cpp has the grammar): one RocksDB
// key for a whole group commit. With a key per entry, the memtable's inserts and the flush's work per key
// held ewxd to 0.73-0.86 million durable acks a second on this 2-core machine; with a key per group it
// took 1.00-1.14 million in the same hour. One entry encodes as encode(entry) does, as every record did
// before groups, so ledgers written before read as they did.
std::string encode_journal_group(std::span<const JournalEntry* const> entries);
// The entries of a record, in order; false when it is not exactly one valid record.
bool decode_journal_record(std::string_view bytes, std::vector<JournalEntry>& entries);
std::string encode(const ContractRecord& contract);
std::optional<ContractRecord> decode_contract(std::string_view bytes);
std::string encode(const BatchRecord& record);
std::optional<BatchRecord> decode_batch_record(std::string_view bytes);

// What the exchange signs: a domain tag and every field of the record but the signature.
std::string signed_bytes(const BatchRecord& record);
// What the next record chains to: the hash of the whole record, signature included.
Hash record_hash(const BatchRecord& record);

// The inputs a batch was cleared from, stored so anyone can clear it again.
struct BatchInputs {
  std::string topology;  // topology file text
  std::string batch;     // batch file text
};
std::string encode(const BatchInputs& inputs);
std::optional<BatchInputs> decode_batch_inputs(std::string_view bytes);

}  // namespace ewx::ledger
