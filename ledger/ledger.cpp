// The ledger on RocksDB.
//
// Layout of a data directory: `db/` (RocksDB) and `exchange-key.pem` (the Ed25519 signing key). A ledger
// open for writing holds an flock on the directory itself, so that no second writer touches anything.
//
// Column families and their keys (u64 is 8 bytes big-endian, so keys sort numerically):
//
//   meta       "format"                          -> "ewx-ledger 1"
//              "public-key"                      -> 32 raw bytes of the exchange's Ed25519 key
//   journal    u64 position of its first entry   -> journal-record: one entry, or a group written together,
//                                                   whose entries hold the positions from the key on
//                                                   (records.cpp has the value grammars)
//   contracts  u64 contract id (= log position)  -> contract
//   merkle     u8 level, u64 index               -> 32-byte hash of perfect subtree (level, index), for levels
//                                                   >= kFirstStoredMerkleLevel (4); the levels below are
//                                                   hashed from the stored contracts when read (level 0, a
//                                                   leaf, is the hash of one contract)
//   batches    u64 batch number                  -> batch-record
//   inputs     u64 batch number                  -> batch-inputs
//   indexes    'b' u64 buyer    u64 batch        -> contract-ids of that buyer in that batch
//              's' u64 seller   u64 batch        -> contract-ids
//              'h' u64 hub      u64 batch        -> contract-ids
//              'c' u64 cluster  u64 batch        -> contract-ids
//              't' u64 (cleared-at + 2^63) u64 batch number -> ""
//              contract-ids = u32 count, u64 id* (ascending, little-endian)
//
// Why indexes are kept per batch and Merkle nodes only from level 4 up: a batch write's cost is almost all
// RocksDB memtable inserts, so entries per contract are what bound durable throughput. A contract costs
// about one entry and a sixteenth (itself, and one Merkle node per 16 contracts where storing every interior
// node cost one more each: with the inputs formatted on a second thread, commit_batch on a 74k-contract batch
// went from 452 to 336 ms, the thread alone being worth about 30 ms); each index has one entry per key and
// batch; the fills of a batch are one journal entry naming its contracts, which are the fills. A node
// below level 4 is rehashed from at most 8 contracts when a proof needs it, so an inclusion proof reads up
// to 15 contracts more than before; nothing stored can change unseen, since every contract is under a
// stored node or the signed root of its batch.
//
// Durability. Every write that a participant or auditor is told about is one RocksDB WriteBatch, on disk
// before anyone is told: a journal append (so an acknowledged order survives any crash), and everything
// about one cleared batch (contracts, Merkle nodes, fills, indexes, inputs, signed record), so a crash
// leaves a batch either wholly recorded or not at all. Group commit is the caller's choice of how many
// entries go into one journal_each() call, and a batch is one write however many contracts it has. A
// journal group is either written with sync, or written without and then synced by sync_journal() on
// another thread while the next group is written (Durability::at_next_sync): the write-ahead log is one
// sequence, so a sync makes everything written before it durable, a synced batch write included whatever
// journal writes preceded it, and a crash can lose only writes nobody was told about. A failed sync stops
// all further writes, since after it nobody can say which earlier writes reached the disk (the lesson
// PostgreSQL learned about retrying fsync). With Options::prepared_log_bytes each write-ahead log is
// written over a file of zeros made in advance, so that those syncs carry no file-system metadata
// (prepared_log.hpp).
//
// Background writes. A journal sync waits for the disk to take the log's last page and to flush its cache,
// and the disk takes requests in turn: a megabyte of a memtable flush or of a spare queued ahead of the log
// page holds the sync up for as long as the disk takes to write it (about 4 ms here, where a sync alone
// takes 0.1 to 0.2 ms). RocksDB writes a flushed table through the page cache and syncs it at the end, so
// the whole table (64 MB) reached the disk at once, and the syncs met it for 0.4 s (2 to 8 ms each, one of
// 21 ms; measured in ewxd at 100,000 entries a second); a spare written a megabyte at a time made 51 syncs
// of its first second take over 2 ms, and none in 64 KiB pieces. With
// Options::background_write_bytes_per_second everything but the journal is paced by one rate limiter
// refilled each millisecond, and handed to the disk 64 KiB at a time (RocksDB's bytes_per_sync for tables,
// a sync_file_range per piece for spares), so that a sync finds at most a piece or two ahead of it.
//
// On open, the in-memory state (open book, Merkle frontier, chain head) is rebuilt from what is stored, so
// reopening after a crash at any point restores exactly what was durable.
#include "ledger/ledger.hpp"

#include <absl/container/flat_hash_map.h>
#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "ledger/prepared_log.hpp"
#include "matcher/batch_file.hpp"

namespace ewx::ledger {
namespace {

constexpr const char* kFormat = "ewx-ledger 1";
enum Family : std::size_t { kDefault, kMeta, kJournal, kContracts, kMerkle, kBatches, kInputs, kIndexes, kFamilies };
const char* const kFamilyNames[kFamilies] = {"default", "meta",    "journal", "contracts",
                                             "merkle",  "batches", "inputs",  "indexes"};

std::string u64_key(std::uint64_t value) {
  std::string key(8, '\0');
  for (int k = 7; k >= 0; --k, value >>= 8) key[k] = static_cast<char>(value & 0xff);
  return key;
}

std::uint64_t read_u64(std::string_view key) {
  std::uint64_t value = 0;
  for (std::size_t k = 0; k < 8; ++k) value = (value << 8) | static_cast<std::uint8_t>(key[k]);
  return value;
}

std::string node_key(std::uint8_t level, std::uint64_t index) {
  return std::string(1, static_cast<char>(level)) + u64_key(index);
}

std::string index_key(char tag, std::uint64_t key, std::uint64_t batch) {
  return std::string(1, tag) + u64_key(key) + u64_key(batch);
}

char index_tag(ContractIndex index) {
  switch (index) {
    case ContractIndex::buyer:
      return 'b';
    case ContractIndex::seller:
      return 's';
    case ContractIndex::hub:
      return 'h';
    case ContractIndex::cluster:
      return 'c';
  }
  return '?';
}

Status from_rocks(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return Status::ok();
  const auto code = status.IsCorruption() ? Status::Code::corruption : Status::Code::io_error;
  return Status::error(code, what + ": " + status.ToString());
}

class StoredNodes : public NodeStore {
 public:
  StoredNodes(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family, rocksdb::ColumnFamilyHandle* contracts)
      : db_(db), family_(family), contracts_(contracts) {}
  std::optional<Hash> node(std::uint8_t level, std::uint64_t index) const override {
    std::string value;
    if (level == 0) {
      if (!db_->Get(rocksdb::ReadOptions(), contracts_, u64_key(index), &value).ok()) return std::nullopt;
      return leaf_hash(value);
    }
    if (level < kFirstStoredMerkleLevel) {
      const auto left = node(level - 1, 2 * index);
      const auto right = left ? node(level - 1, 2 * index + 1) : std::nullopt;
      if (!right) return std::nullopt;
      return node_hash(*left, *right);
    }
    if (!db_->Get(rocksdb::ReadOptions(), family_, node_key(level, index), &value).ok() || value.size() != 32) {
      return std::nullopt;
    }
    Hash hash;
    std::copy(value.begin(), value.end(), hash.begin());
    return hash;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* family_;
  rocksdb::ColumnFamilyHandle* contracts_;
};

std::string encode_ids(const std::vector<std::uint64_t>& ids) {
  std::string out(4 + 8 * ids.size(), '\0');
  const std::uint32_t count = static_cast<std::uint32_t>(ids.size());
  for (int k = 0; k < 4; ++k) out[k] = static_cast<char>((count >> (8 * k)) & 0xff);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (int k = 0; k < 8; ++k) out[4 + 8 * i + k] = static_cast<char>((ids[i] >> (8 * k)) & 0xff);
  }
  return out;
}

std::vector<std::uint64_t> decode_ids(std::string_view bytes) {
  std::vector<std::uint64_t> ids;
  if (bytes.size() < 4) return ids;
  std::uint32_t count = 0;
  for (int k = 0; k < 4; ++k) count |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[k])) << (8 * k);
  if (bytes.size() != 4 + 8 * static_cast<std::size_t>(count)) return ids;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t id = 0;
    for (int k = 0; k < 8; ++k)
      id |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes[4 + 8 * i + k])) << (8 * k);
    ids.push_back(id);
  }
  return ids;
}

// Finds a batch's orders (or offers) by id. ewxd's batches list them in id order, the book's, so a search
// over a copy of the ids does it, galloping from where the last one was found: contracts come by order, so
// an order's is a step or two on, an offer's a binary search. Other batches get a hash table. Built for
// every commit, the std::unordered_map that did this for 110,000 ids cost more than the searches.
class BatchPositions {
 public:
  template <class Listed>
  explicit BatchPositions(const std::vector<Listed>& listed) {
    ids_.reserve(listed.size());
    for (const Listed& x : listed) ids_.push_back(x.id);
    if (std::is_sorted(ids_.begin(), ids_.end())) return;
    unsorted_.reserve(ids_.size());
    for (std::size_t k = 0; k < ids_.size(); ++k) unsorted_.emplace(ids_[k], k);
  }

  // The position of `id` in the batch, or nothing.
  std::optional<std::size_t> find(std::uint64_t id) {
    if (!unsorted_.empty()) {
      const auto at = unsorted_.find(id);
      return at == unsorted_.end() ? std::nullopt : std::optional<std::size_t>(at->second);
    }
    if (cursor_ == ids_.size() || ids_[cursor_] > id) cursor_ = 0;
    // Galloping from the cursor: the next id wanted is usually a step or two on.
    std::size_t low = cursor_, step = 1;
    while (low + step < ids_.size() && ids_[low + step] < id) low += step, step *= 2;
    const auto first = ids_.begin() + static_cast<std::ptrdiff_t>(low);
    const auto last = ids_.begin() + static_cast<std::ptrdiff_t>(std::min(ids_.size(), low + step + 1));
    cursor_ = static_cast<std::size_t>(std::lower_bound(first, last, id) - ids_.begin());
    if (cursor_ == ids_.size() || ids_[cursor_] != id) return std::nullopt;
    return cursor_;
  }

 private:
  std::vector<std::uint64_t> ids_;
  absl::flat_hash_map<std::uint64_t, std::size_t> unsorted_;  // when the ids are not in order
  std::size_t cursor_ = 0;
};

// One batch's index entries: the ids of its contracts per buyer, seller, hub and cluster. Hubs and clusters
// are small numbers, kept in arrays; participants in hash tables. Written in key order.
class BatchIndexes {
 public:
  void add(const ContractRecord& c) {
    buyer_[c.buyer].push_back(c.id);
    seller_[c.seller].push_back(c.id);
    by_number(hub_, c.hub).push_back(c.id);
    by_number(cluster_, c.cluster).push_back(c.id);
  }

  template <class Put>
  void write(const Put& put) const {
    for (const auto& [tag, table] : {std::pair{'b', &buyer_}, std::pair{'s', &seller_}}) {
      std::vector<std::uint64_t> keys;
      keys.reserve(table->size());
      for (const auto& [key, ids] : *table) keys.push_back(key);
      std::sort(keys.begin(), keys.end());
      for (const std::uint64_t key : keys) put(tag, key, table->at(key));
    }
    for (const auto& [tag, table] : {std::pair{'h', &hub_}, std::pair{'c', &cluster_}}) {
      for (std::size_t key = 0; key < table->size(); ++key)
        if (!(*table)[key].empty()) put(tag, key, (*table)[key]);
    }
  }

 private:
  static std::vector<std::uint64_t>& by_number(std::vector<std::vector<std::uint64_t>>& table, std::size_t key) {
    if (key >= table.size()) table.resize(key + 1);
    return table[key];
  }

  absl::flat_hash_map<std::uint64_t, std::vector<std::uint64_t>> buyer_, seller_;
  std::vector<std::vector<std::uint64_t>> hub_, cluster_;
};

}  // namespace

bool OpenBook::operator==(const OpenBook& other) const {
  const auto same_order = [](const auto& a, const auto& b) {
    return a.first == b.first && a.second.participant == b.second.participant &&
           a.second.remaining == b.second.remaining && a.second.resource_class == b.second.resource_class &&
           a.second.client_order_id == b.second.client_order_id;
  };
  return orders.size() == other.orders.size() && offers.size() == other.offers.size() &&
         std::equal(orders.begin(), orders.end(), other.orders.begin(), same_order) &&
         std::equal(offers.begin(), offers.end(), other.offers.begin(), same_order);
}

Ledger::DirectoryLock::~DirectoryLock() {
  if (fd >= 0) ::close(fd);
}

Ledger::~Ledger() {
  if (db_) {
    for (auto* family : families_) db_->DestroyColumnFamilyHandle(family);
    db_->Close().PermitUncheckedError();
  }
}

Result<std::unique_ptr<Ledger>> Ledger::open(const std::filesystem::path& dir, bool create) {
  return open(dir, create, Options{});
}

Result<std::unique_ptr<Ledger>> Ledger::open(const std::filesystem::path& dir, bool create, const Options& settings) {
  namespace fs = std::filesystem;
  std::error_code error;
  const bool exists = fs::exists(dir, error);
  const bool empty = !exists || fs::is_empty(dir, error);
  const fs::path db_path = dir / "db";
  const fs::path key_path = dir / "exchange-key.pem";
  if (exists && !fs::is_directory(dir, error)) {
    return Status::error(Status::Code::foreign_data, dir.string() + " is not a directory");
  }
  if (!empty && !fs::exists(db_path / "CURRENT", error)) {
    return Status::error(Status::Code::foreign_data,
                         dir.string() + " is not an ewx data directory (no db/ inside); refusing to touch it");
  }
  if (empty && !create) return Status::error(Status::Code::not_found, "no ewx ledger in " + dir.string());
  if (empty) fs::create_directories(dir, error);
  if (error) return Status::error(Status::Code::io_error, "cannot create " + dir.string() + ": " + error.message());

  std::unique_ptr<Ledger> ledger(new Ledger());
  ledger->dir_ = dir;
  ledger->lock_.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ledger->lock_.fd < 0 || ::flock(ledger->lock_.fd, LOCK_EX | LOCK_NB) != 0) {
    const bool held = errno == EWOULDBLOCK;
    return Status::error(Status::Code::io_error, held ? "the ledger in " + dir.string() +
                                                            " is open in another process (or elsewhere in this one)"
                                                      : "cannot lock " + dir.string() + ": " + std::strerror(errno));
  }
  Result<ExchangeKey> key = ExchangeKey::load(key_path, empty);
  if (!key.is_ok()) return key.status();
  ledger->key_ = key.value();

  rocksdb::DBOptions options;
  options.create_if_missing = empty;
  options.create_missing_column_families = empty;
  options.paranoid_checks = true;
  if (settings.background_write_bytes_per_second > 0) {
    // Refilled every millisecond, so that no more than a millisecond's worth goes to the disk at once.
    ledger->background_writes_.reset(
        rocksdb::NewGenericRateLimiter(static_cast<std::int64_t>(settings.background_write_bytes_per_second), 1000));
    options.rate_limiter = ledger->background_writes_;
    options.bytes_per_sync = kBackgroundWritePiece;
    options.writable_file_max_buffer_size = kBackgroundWritePiece;
  }
  if (settings.prepared_log_bytes > 0) {
    try {
      fs::create_directories(db_path);
      ledger->log_files_ =
          std::make_shared<PreparedLogFileSystem>(rocksdb::FileSystem::Default(), db_path, settings.prepared_log_bytes,
                                                  ledger->background_writes_, kBackgroundWritePiece);
    } catch (const std::exception& e) {
      return Status::error(Status::Code::io_error, std::string("preparing the write-ahead log: ") + e.what());
    }
    ledger->env_ = rocksdb::NewCompositeEnv(ledger->log_files_);
    options.env = ledger->env_.get();
    // A log lasts until a memtable is switched, and every family writes into it: left to themselves, the
    // families' memtables fill long after their log has outgrown its spare (66 MB of log for the journal's
    // 64 MiB memtable alone here, more with a batch's contracts), and the rest of it is appended. Past 7/8
    // of a spare, RocksDB flushes every family the log holds and starts the next log over the next spare.
    options.max_total_wal_size = settings.prepared_log_bytes / 8 * 7;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyNames) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  // The journal's tables are not compressed: they are written once at a memtable flush and read only when
  // the ledger opens, and snappy on the flush thread took 4.5 % of the machine at 0.8 million entries a
  // second, CPU that intake shares on 2 cores (this machine's profile). The tables are about 1.8 times
  // larger (64 MB a flush against 36).
  descriptors[kJournal].options.compression = rocksdb::kNoCompression;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, db_path.string(), descriptors, &ledger->families_, &raw);
  if (!opened.ok()) {
    const auto code = opened.IsCorruption() ? Status::Code::corruption : Status::Code::foreign_data;
    return Status::error(code, "cannot open the ledger in " + db_path.string() + ": " + opened.ToString());
  }
  ledger->db_.reset(raw);

  if (empty) {
    rocksdb::WriteBatch init;
    init.Put(ledger->families_[kMeta], "format", kFormat).PermitUncheckedError();
    init.Put(ledger->families_[kMeta], "public-key", ledger->key_->public_key()).PermitUncheckedError();
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (Status s = from_rocks(ledger->db_->Write(sync, &init), "initialising the ledger"); !s.is_ok()) return s;
  }
  if (Status s = ledger->load(); !s.is_ok()) return s;
  return ledger;
}

Ledger::LogFiles Ledger::log_files() const {
  if (!log_files_) return {};
  return {log_files_->prepared_logs(), log_files_->appended_logs(), log_files_->recycled_spares()};
}

std::uint64_t Ledger::paced_write_bytes() const {
  return background_writes_ ? static_cast<std::uint64_t>(background_writes_->GetTotalBytesThrough()) : 0;
}

Result<std::unique_ptr<Ledger>> Ledger::open_for_audit(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(dir / "db" / "CURRENT", error)) {
    return Status::error(Status::Code::foreign_data, dir.string() + " is not an ewx data directory (no db/ inside)");
  }
  std::unique_ptr<Ledger> ledger(new Ledger());
  ledger->dir_ = dir;
  ledger->audit_only_ = true;
  rocksdb::DBOptions options;
  options.paranoid_checks = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyNames) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened =
      rocksdb::DB::OpenForReadOnly(options, (dir / "db").string(), descriptors, &ledger->families_, &raw);
  if (!opened.ok())
    return Status::error(Status::Code::corruption, "cannot open " + dir.string() + " read-only: " + opened.ToString());
  ledger->db_.reset(raw);
  std::string value;
  if (!raw->Get(rocksdb::ReadOptions(), ledger->families_[kMeta], "format", &value).ok() || value != kFormat) {
    return Status::error(Status::Code::foreign_data,
                         dir.string() + " holds a RocksDB database that is not an ewx ledger");
  }
  return ledger;
}

std::string Ledger::stored_public_key() const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), families_[kMeta], "public-key", &value).ok()) return {};
  return value;
}

Status Ledger::scan(Stored what, const std::function<bool(std::uint64_t key, std::string_view value)>& visit) const {
  const Family family = what == Stored::contracts ? kContracts : kBatches;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[family]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8)
      return Status::error(Status::Code::corruption, "a malformed key in " + std::string(kFamilyNames[family]));
    if (!visit(read_u64(it->key().ToStringView()), it->value().ToStringView())) break;
  }
  return from_rocks(it->status(), std::string("reading ") + kFamilyNames[family]);
}

Status Ledger::scan_journal(const std::function<bool(std::uint64_t position, const JournalEntry& entry)>& visit) const {
  std::vector<JournalEntry> entries;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kJournal]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::error(Status::Code::corruption, "a malformed key in the journal");
    const std::uint64_t first = read_u64(it->key().ToStringView());
    if (!decode_journal_record(it->value().ToStringView(), entries))
      return Status::error(Status::Code::corruption, "journal record " + std::to_string(first) + " is unreadable");
    for (std::size_t k = 0; k < entries.size(); ++k)
      if (!visit(first + k, entries[k])) return Status::ok();
  }
  return from_rocks(it->status(), "reading the journal");
}

std::optional<Hash> Ledger::merkle_node(std::uint8_t level, std::uint64_t index) const {
  return StoredNodes(db_.get(), families_[kMerkle], families_[kContracts]).node(level, index);
}

void Ledger::apply(const JournalEntry& e) {
  using Kind = JournalEntry::Kind;
  switch (e.kind) {
    case Kind::order:
      book_.orders.insert_or_assign(
          e.order.id, OpenOrder{e.participant, e.resource_class, e.order, e.order.units, e.client_order_id});
      break;
    case Kind::offer:
      book_.offers.insert_or_assign(
          e.offer.id, OpenOffer{e.participant, e.resource_class, e.offer, e.offer.units, e.client_order_id});
      break;
    case Kind::cancel_order:
      book_.orders.erase(e.id);
      break;
    case Kind::cancel_offer:
      book_.offers.erase(e.id);
      break;
    case Kind::batch_fills:
      break;  // applied from the contracts, see apply_fill
  }
}

void Ledger::apply_fill(const ContractRecord& contract) {
  if (OpenOrder* order = book_.orders.find(contract.order); order && (order->remaining -= contract.units) <= 0)
    book_.orders.erase(contract.order);
  if (OpenOffer* offer = book_.offers.find(contract.offer); offer && (offer->remaining -= contract.units) <= 0)
    book_.offers.erase(contract.offer);
}

Status Ledger::load() {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), families_[kMeta], "format", &value).ok() || value != kFormat) {
    return Status::error(Status::Code::foreign_data,
                         dir_.string() + " holds a RocksDB database that is not an ewx ledger");
  }
  if (!db_->Get(rocksdb::ReadOptions(), families_[kMeta], "public-key", &value).ok() || value != key_->public_key()) {
    return Status::error(Status::Code::foreign_data, "the exchange key in " + dir_.string() +
                                                         " does not match the key this ledger was signed with");
  }

  Status missing = Status::ok();
  const Status read = scan_journal([&](std::uint64_t position, const JournalEntry& entry) {
    apply(entry);
    for (std::uint64_t id = entry.first_contract;
         entry.kind == JournalEntry::Kind::batch_fills && id < entry.first_contract + entry.count; ++id) {
      const auto contract = this->contract(id);
      if (!contract) {
        missing =
            Status::error(Status::Code::corruption, "contract " + std::to_string(id) + ", a fill of batch " +
                                                        std::to_string(entry.batch) + ", is missing or unreadable");
        return false;
      }
      apply_fill(*contract);
    }
    journal_next_ = position + 1;
    return true;
  });
  if (!read.is_ok()) return read;
  if (!missing.is_ok()) return missing;

  std::unique_ptr<rocksdb::Iterator> it;

  it.reset(db_->NewIterator(rocksdb::ReadOptions(), families_[kBatches]));
  std::uint64_t log_size = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto record = decode_batch_record(it->value().ToStringView());
    if (!record)
      return Status::error(Status::Code::corruption,
                           "batch record " + std::to_string(read_u64(it->key().ToStringView())) + " is unreadable");
    batches_ = record->number;
    log_size = record->log_size;
    last_record_ = record_hash(*record);
  }
  if (Status s = from_rocks(it->status(), "reading batch records"); !s.is_ok()) return s;
  const auto frontier = Frontier::load(StoredNodes(db_.get(), families_[kMerkle], families_[kContracts]), log_size);
  if (!frontier)
    return Status::error(Status::Code::corruption, "Merkle log nodes missing for a log of " + std::to_string(log_size));
  frontier_ = *frontier;
  return Status::ok();
}

// What a run of journal entries may do, checked against the book plus what the run itself opens or cancels,
// without copying the book.
class Ledger::JournalCheck {
 public:
  // `entries`: how many will be checked, to size the record of what they change.
  JournalCheck(const Ledger& ledger, std::size_t entries) : ledger_(ledger) {
    orders_.reserve(entries);
    offers_.reserve(entries);
  }

  // Why `e` cannot follow the entries admitted so far, or nothing (and `e` is then admitted). A cancel must
  // come from the owner (or from the exchange, participant 0); the refusal does not say whether the order
  // exists, so that a participant cannot probe for others' orders.
  std::optional<std::string> refusal(const JournalEntry& e) {
    using Kind = JournalEntry::Kind;
    switch (e.kind) {
      case Kind::order:
        if (owner(orders_, ledger_.book_.orders, e.order.id))
          return "order " + std::to_string(e.order.id) + " is already open";
        orders_[e.order.id] = e.participant;
        return std::nullopt;
      case Kind::offer:
        if (owner(offers_, ledger_.book_.offers, e.offer.id))
          return "offer " + std::to_string(e.offer.id) + " is already open";
        offers_[e.offer.id] = e.participant;
        return std::nullopt;
      case Kind::cancel_order:
        if (!may_cancel(owner(orders_, ledger_.book_.orders, e.id), e.participant))
          return "order " + std::to_string(e.id) + " is not an open order of participant " +
                 std::to_string(e.participant);
        orders_[e.id] = std::nullopt;
        return std::nullopt;
      case Kind::cancel_offer:
        if (!may_cancel(owner(offers_, ledger_.book_.offers, e.id), e.participant))
          return "offer " + std::to_string(e.id) + " is not an open offer of participant " +
                 std::to_string(e.participant);
        offers_[e.id] = std::nullopt;
        return std::nullopt;
      case Kind::batch_fills:
        return "fills are recorded by commit_batch, not journalled directly";
    }
    return "unknown journal entry kind";
  }

 private:
  // What this run did to an id (opened it: its owner; cancelled it: nothing) overrides the book.
  using Changes = absl::flat_hash_map<std::uint64_t, std::optional<ParticipantId>>;
  template <typename Side>
  static std::optional<ParticipantId> owner(const Changes& changes, const Side& open, std::uint64_t id) {
    if (const auto changed = changes.find(id); changed != changes.end()) return changed->second;
    if (const auto* it = open.find(id)) return it->participant;
    return std::nullopt;
  }
  static bool may_cancel(std::optional<ParticipantId> owner, ParticipantId who) {
    return owner && (who == 0 || *owner == who);
  }
  const Ledger& ledger_;
  Changes orders_, offers_;
};

Status Ledger::journal(std::span<const JournalEntry> entries) {
  JournalCheck check(*this, entries.size());
  for (const JournalEntry& e : entries)
    if (auto refusal = check.refusal(e)) return Status::error(Status::Code::invalid_argument, *refusal);
  return write_journal(entries, {}, Durability::synced);
}

// A cancel names an old order or offer, whose slot in the book's page and whose record are each a cache miss
// (and, in a book of millions, a miss in the TLB too): checked one after another, every cancel waited for
// its misses in turn, a third of the writer thread's time in a flood with one request in ten a cancel (this
// machine's profile, when the book was a tree with an index). Asked for together first, the misses overlap.
void Ledger::prefetch_cancelled(std::span<const JournalEntry> entries) const {
  using Kind = JournalEntry::Kind;
  for (const JournalEntry& e : entries) {
    if (e.kind == Kind::cancel_order) book_.orders.prefetch(e.id);
    if (e.kind == Kind::cancel_offer) book_.offers.prefetch(e.id);
  }
  for (const JournalEntry& e : entries) {
    if (e.kind == Kind::cancel_order) {
      if (const OpenOrder* order = book_.orders.find(e.id)) __builtin_prefetch(order);
    } else if (e.kind == Kind::cancel_offer) {
      if (const OpenOffer* offer = book_.offers.find(e.id)) __builtin_prefetch(offer);
    }
  }
}

Result<std::vector<std::optional<std::string>>> Ledger::journal_each(std::span<const JournalEntry> entries,
                                                                     Durability durability) {
  prefetch_cancelled(entries);
  JournalCheck check(*this, entries.size());
  std::vector<std::optional<std::string>> refusals(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) refusals[k] = check.refusal(entries[k]);
  if (Status s = write_journal(entries, refusals, durability); !s.is_ok()) return s;
  return refusals;
}

Status Ledger::sync_journal() {
  if (Status s = refuse_after_failed_sync(); !s.is_ok()) return s;
  Status synced = from_rocks(db_->SyncWAL(), "journal sync");
  if (!synced.is_ok()) {
    sync_failed_.store(true);
    return synced;
  }
  crash_point("journal-after-sync");
  return synced;
}

Status Ledger::refuse_after_failed_sync() const {
  if (!sync_failed_.load(std::memory_order_relaxed)) return Status::ok();
  return Status::error(Status::Code::io_error,
                       "a journal sync failed earlier, so the ledger takes no more writes until it is reopened");
}

Status Ledger::write_journal(std::span<const JournalEntry> entries,
                             std::span<const std::optional<std::string>> refusals, Durability durability) {
  if (Status s = refuse_after_failed_sync(); !s.is_ok()) return s;
  const auto admitted = [&](std::size_t k) { return refusals.empty() || !refusals[k]; };
  std::vector<const JournalEntry*> written;
  written.reserve(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k)
    if (admitted(k)) written.push_back(&entries[k]);
  if (written.empty()) return Status::ok();
  const std::uint64_t sequence = journal_next_ + written.size();
  rocksdb::WriteBatch batch;
  batch.Put(families_[kJournal], u64_key(journal_next_), encode_journal_group(written)).PermitUncheckedError();
  crash_point("journal-before-write");
  rocksdb::WriteOptions options;
  options.sync = durability == Durability::synced;
  if (Status s = from_rocks(db_->Write(options, &batch), "journal write"); !s.is_ok()) return s;
  crash_point("journal-after-write");
  for (std::size_t k = 0; k < entries.size(); ++k)
    if (admitted(k)) apply(entries[k]);
  journal_next_ = sequence;
  return Status::ok();
}

Result<BatchRecord> Ledger::commit_batch(const Batch& batch, const Topology& topology, const ClearingResult& result,
                                         std::int64_t cleared_at, CommittedBatch* committed) {
  if (batch.number != batches_ + 1) {
    return Status::error(
        Status::Code::invalid_argument,
        "batch " + std::to_string(batch.number) + " is not the next batch (" + std::to_string(batches_ + 1) + ")");
  }
  if (result.status != SolveStatus::optimal)
    return Status::error(Status::Code::invalid_argument, "the batch was not cleared");
  if (Status s = refuse_after_failed_sync(); !s.is_ok()) return s;

  // The batch's inputs as text, for auditors to re-clear, formatted and hashed on a second core while this
  // one records the contracts: the two share nothing, and the text is a sixth of the commit at 100k x 10k.
  std::future<std::pair<std::string, Hash>> inputs_text = std::async(std::launch::async, [&batch, &topology] {
    BatchInputs inputs;
    inputs.topology = format_topology(topology);
    inputs.batch = format_batch(batch, topology);
    std::string bytes = encode(inputs);
    const Hash hash = sha256(bytes);
    return std::pair{std::move(bytes), hash};
  });

  Frontier frontier = frontier_;
  // Sized for what it will hold (a contract with its key and share of Merkle nodes and index entries is
  // under 200 bytes, the inputs about 60 a batch order or offer): grown by doubling, the 19 MB of a
  // 100k x 10k batch were copied about twice over, into fresh pages each time.
  rocksdb::WriteBatch write(result.contracts.size() * 200 + (batch.orders.size() + batch.offers.size()) * 64);
  std::uint64_t sequence = journal_next_;
  std::vector<ContractRecord> recorded;  // the contracts as written, in log order
  recorded.reserve(result.contracts.size());
  BatchIndexes index;
  BatchPositions order_at(batch.orders), offer_at(batch.offers);
  // Per batch order and offer: the units this batch takes, and its place in the open book, found once (an
  // offer has a few contracts on average, an order about one) and used again to update the book.
  std::vector<Units> order_taken(batch.orders.size(), 0), offer_taken(batch.offers.size(), 0);
  std::vector<OpenOrder*> order_open(batch.orders.size(), nullptr);
  std::vector<OpenOffer*> offer_open(batch.offers.size(), nullptr);
  // An offer's room and seller, copied beside it: its contracts come in no order, and reading the book's
  // record each time missed the cache (a fifth of this loop at 100k x 10k).
  std::vector<Units> offer_room(batch.offers.size(), 0);
  std::vector<ParticipantId> offer_seller(batch.offers.size(), 0);

  BatchRecord record;
  record.number = batch.number;
  record.cleared_at = cleared_at;
  record.first_contract = frontier.size();
  for (const Contract& c : result.contracts) {
    const std::optional<std::size_t> at_order = order_at.find(c.order);
    const std::optional<std::size_t> at_offer = offer_at.find(c.offer);
    if (!at_order || !at_offer) {
      return Status::error(Status::Code::invalid_argument, "a contract between order " + std::to_string(c.order) +
                                                               " and offer " + std::to_string(c.offer) +
                                                               " names one that is not in batch " +
                                                               std::to_string(batch.number));
    }
    const std::size_t i = *at_order, j = *at_offer;
    if (!order_open[i]) order_open[i] = book_.orders.find(c.order);
    if (!order_open[i] || order_open[i]->remaining < (order_taken[i] += c.units)) {
      return Status::error(Status::Code::invalid_argument, "order " + std::to_string(c.order) + " is not open for " +
                                                               std::to_string(c.units) + " units");
    }
    if (!offer_open[j] && (offer_open[j] = book_.offers.find(c.offer))) {
      offer_room[j] = offer_open[j]->remaining;
      offer_seller[j] = offer_open[j]->participant;
    }
    if (!offer_open[j] || offer_room[j] < (offer_taken[j] += c.units)) {
      return Status::error(Status::Code::invalid_argument, "offer " + std::to_string(c.offer) + " is not open for " +
                                                               std::to_string(c.units) + " units");
    }
    const BuyOrder& order = batch.orders[i];
    const SellOffer& offer = batch.offers[j];
    ContractRecord contract{frontier.size(),
                            batch.number,
                            c.order,
                            c.offer,
                            order_open[i]->participant,
                            offer_seller[j],
                            c.units,
                            c.price,
                            c.transfer_charge,
                            order.hub,
                            offer.cluster,
                            order_open[i]->resource_class,
                            order.window_begin,
                            order.window_end};
    const std::string bytes = encode(contract);
    write.Put(families_[kContracts], u64_key(contract.id), bytes).PermitUncheckedError();
    for (const NewNode& node : frontier.append(leaf_hash(bytes))) {
      if (node.level < kFirstStoredMerkleLevel) continue;  // hashed from the contracts stored above when read
      write
          .Put(families_[kMerkle], node_key(node.level, node.index),
               rocksdb::Slice(reinterpret_cast<const char*>(node.hash.data()), node.hash.size()))
          .PermitUncheckedError();
    }
    index.add(contract);
    recorded.push_back(std::move(contract));
  }
  index.write([&](char tag, std::uint64_t key, const std::vector<std::uint64_t>& ids) {
    write.Put(families_[kIndexes], index_key(tag, key, batch.number), encode_ids(ids)).PermitUncheckedError();
  });
  JournalEntry fills_entry;
  fills_entry.kind = JournalEntry::Kind::batch_fills;
  fills_entry.batch = batch.number;
  fills_entry.first_contract = record.first_contract;
  fills_entry.count = frontier.size() - record.first_contract;
  write.Put(families_[kJournal], u64_key(sequence++), encode(fills_entry)).PermitUncheckedError();

  const auto [input_bytes, input_hash] = inputs_text.get();
  write.Put(families_[kInputs], u64_key(batch.number), input_bytes).PermitUncheckedError();

  record.contract_count = frontier.size() - record.first_contract;
  record.log_size = frontier.size();
  record.log_root = frontier.root();
  record.previous_record = last_record_;
  record.inputs = input_hash;
  record.total_surplus = to_string(result.total_surplus);
  for (std::size_t j = 0; j < batch.offers.size(); ++j)
    record.prices.emplace_back(batch.offers[j].id, result.offer_price[j]);
  record.signature = key_->sign(signed_bytes(record));
  write.Put(families_[kBatches], u64_key(record.number), encode(record)).PermitUncheckedError();
  write
      .Put(families_[kIndexes],
           std::string(1, 't') + u64_key(static_cast<std::uint64_t>(cleared_at) ^ (std::uint64_t{1} << 63)) +
               u64_key(record.number),
           "")
      .PermitUncheckedError();

  crash_point("commit-before-write");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (Status s = from_rocks(db_->Write(sync, &write), "batch write"); !s.is_ok()) return s;
  crash_point("commit-after-write");
  // The book as apply_fill leaves it contract by contract, through the places found above, and each fill as
  // it leaves the order or offer (an order filled is closed, and has none left).
  std::vector<BatchFill> order_fills, offer_fills;
  for (std::size_t i = 0; i < batch.orders.size(); ++i) {
    if (order_taken[i] == 0) continue;
    const Units left = order_open[i]->remaining -= order_taken[i];
    if (committed) order_fills.push_back({false, batch.orders[i].id, order_open[i]->participant, order_taken[i], left});
    if (left <= 0) book_.orders.erase(batch.orders[i].id);
  }
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    if (offer_taken[j] == 0) continue;
    const Units left = offer_open[j]->remaining -= offer_taken[j];
    if (committed) offer_fills.push_back({true, batch.offers[j].id, offer_seller[j], offer_taken[j], left});
    if (left <= 0) book_.offers.erase(batch.offers[j].id);
  }
  frontier_ = std::move(frontier);
  journal_next_ = sequence;
  batches_ = record.number;
  last_record_ = record_hash(record);
  if (committed) {
    // ewxd's batches list their orders and offers in id order already (the book's).
    const auto by_id = [](const BatchFill& a, const BatchFill& b) { return a.id < b.id; };
    for (std::vector<BatchFill>* side : {&order_fills, &offer_fills})
      if (!std::is_sorted(side->begin(), side->end(), by_id)) std::sort(side->begin(), side->end(), by_id);
    committed->contracts = std::move(recorded);
    committed->fills = std::move(order_fills);
    committed->fills.insert(committed->fills.end(), offer_fills.begin(), offer_fills.end());
  }
  return record;
}

std::optional<ContractRecord> Ledger::contract(std::uint64_t id) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), families_[kContracts], u64_key(id), &value).ok()) return std::nullopt;
  return decode_contract(value);
}

ContractPage Ledger::contracts_by(ContractIndex index, std::uint64_t key, std::uint64_t start,
                                  std::size_t limit) const {
  ContractPage page;
  const std::string prefix = std::string(1, index_tag(index)) + u64_key(key);
  std::uint64_t from_batch = 0;
  if (const auto first = contract(start)) from_batch = first->batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kIndexes]));
  for (it->Seek(prefix + u64_key(from_batch)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    for (const std::uint64_t id : decode_ids(it->value().ToStringView())) {
      if (id < start) continue;
      if (page.contracts.size() == limit) {
        page.next_start = id;
        return page;
      }
      if (auto c = contract(id)) page.contracts.push_back(std::move(*c));
    }
  }
  return page;
}

ContractPage Ledger::contracts_in_batch(std::uint64_t batch, std::uint64_t start, std::size_t limit) const {
  ContractPage page;
  const auto record = batch_record(batch);
  if (!record) return page;
  const std::uint64_t end = record->first_contract + record->contract_count;
  for (std::uint64_t id = std::max(record->first_contract, start); id < end; ++id) {
    if (page.contracts.size() == limit) {
      page.next_start = id;
      break;
    }
    if (auto c = contract(id)) page.contracts.push_back(std::move(*c));
  }
  return page;
}

ContractPage Ledger::contracts_cleared_between(std::int64_t from, std::int64_t to, std::uint64_t start,
                                               std::size_t limit) const {
  ContractPage page;
  const auto time_key = [](std::int64_t t) {
    return std::string(1, 't') + u64_key(static_cast<std::uint64_t>(t) ^ (std::uint64_t{1} << 63));
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kIndexes]));
  const std::string end = time_key(to);
  for (it->Seek(time_key(from)); it->Valid() && it->key().ToStringView() < end && it->key().starts_with("t");
       it->Next()) {
    const std::uint64_t batch = read_u64(it->key().ToStringView().substr(9));
    if (page.contracts.size() == limit) {  // full: the next page starts at the next contract there is
      const ContractPage next = contracts_in_batch(batch, start, 1);
      if (next.contracts.empty()) continue;
      page.next_start = next.contracts.front().id;
      break;
    }
    ContractPage part = contracts_in_batch(batch, start, limit - page.contracts.size());
    for (auto& c : part.contracts) page.contracts.push_back(std::move(c));
    if (part.next_start) {
      page.next_start = part.next_start;
      break;
    }
  }
  return page;
}

std::optional<BatchRecord> Ledger::batch_record(std::uint64_t number) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), families_[kBatches], u64_key(number), &value).ok()) return std::nullopt;
  return decode_batch_record(value);
}

std::optional<BatchInputs> Ledger::batch_inputs(std::uint64_t number) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), families_[kInputs], u64_key(number), &value).ok()) return std::nullopt;
  return decode_batch_inputs(value);
}

std::optional<BatchRecord> Ledger::last_batch_record() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kBatches]));
  it->SeekToLast();
  if (!it->Valid()) return std::nullopt;
  return decode_batch_record(it->value().ToStringView());
}

SignedHead Ledger::head() const {
  SignedHead head;
  head.log_root = empty_tree_hash();
  if (const auto record = last_batch_record()) {
    head = {record->number, record->log_size, record->log_root, record->cleared_at, record->signature};
  }
  return head;
}

std::optional<std::vector<Hash>> Ledger::inclusion_proof(std::uint64_t contract, std::uint64_t log_size) const {
  if (!audit_only_ && log_size > frontier_.size()) return std::nullopt;
  return ledger::inclusion_proof(StoredNodes(db_.get(), families_[kMerkle], families_[kContracts]), contract, log_size);
}

std::optional<std::vector<Hash>> Ledger::consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const {
  if (!audit_only_ && new_size > frontier_.size()) return std::nullopt;
  return ledger::consistency_proof(StoredNodes(db_.get(), families_[kMerkle], families_[kContracts]), old_size,
                                   new_size);
}

std::string Ledger::public_key() const { return key_->public_key(); }

Status Ledger::checkpoint(const std::filesystem::path& dir) const {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return Status::error(Status::Code::invalid_argument,
                         dir.string() + " exists and is not empty; a checkpoint needs a new directory");
  }
  fs::create_directories(dir, error);
  if (error) return Status::error(Status::Code::io_error, "cannot create " + dir.string() + ": " + error.message());
  rocksdb::Checkpoint* raw = nullptr;
  if (Status s = from_rocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"); !s.is_ok()) return s;
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (Status s = from_rocks(checkpoint->CreateCheckpoint((dir / "db").string()), "checkpoint"); !s.is_ok()) return s;
  fs::copy_file(dir_ / "exchange-key.pem", dir / "exchange-key.pem", error);
  if (error) return Status::error(Status::Code::io_error, "cannot copy the exchange key: " + error.message());
  return Status::ok();
}

}  // namespace ewx::ledger
