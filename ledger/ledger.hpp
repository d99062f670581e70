// The ledger: every accepted order and every settled contract, durable and tamper-evident.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ledger/exchange_key.hpp"
#include "ledger/id_book.hpp"
#include "ledger/merkle_log.hpp"
#include "ledger/records.hpp"
#include "ledger/status.hpp"
#include "matcher/clearing.hpp"
#include "matcher/topology.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class RateLimiter;
}  // namespace rocksdb

namespace ewx::ledger {

class PreparedLogFileSystem;

// An order or offer still (partly) open, as the journal says.
struct OpenOrder {
  ParticipantId participant = 0;
  std::string resource_class;
  BuyOrder order;
  Units remaining = 0;
  std::uint64_t client_order_id = 0;
};
struct OpenOffer {
  ParticipantId participant = 0;
  std::string resource_class;
  SellOffer offer;
  Units remaining = 0;
  std::uint64_t client_order_id = 0;
};
struct OpenBook {
  using Orders = IdBook<OrderId, OpenOrder>;
  using Offers = IdBook<OfferId, OpenOffer>;
  Orders orders;
  Offers offers;
  bool operator==(const OpenBook& other) const;
};

struct SignedHead {
  std::uint64_t batch = 0;  // the batch record that carries it (0: the empty log)
  std::uint64_t log_size = 0;
  Hash log_root{};
  std::int64_t cleared_at = 0;
  std::string signature;  // over that batch record's signed bytes
};

struct ContractPage {
  std::vector<ContractRecord> contracts;
  std::optional<std::uint64_t> next_start;  // pass as `start` for the next page; nothing when done
};

enum class ContractIndex { buyer, seller, hub, cluster };

// The Merkle log stores the hashes of its perfect subtrees from this level up (16 contracts and more); the
// nodes below are hashed from the contracts when read (see ledger.cpp).
inline constexpr std::uint8_t kFirstStoredMerkleLevel = 4;

// What one batch did to one of its orders or offers: the units it traded and what is left open after.
struct BatchFill {
  bool offer = false;
  std::uint64_t id = 0;
  ParticipantId participant = 0;
  Units units = 0;
  Units remaining = 0;
};

// What commit_batch hands back, when asked, besides the signed record.
struct CommittedBatch {
  std::vector<ContractRecord> contracts;  // in log order
  std::vector<BatchFill> fills;           // the orders that traded, then the offers, each in id order
};

class Ledger {
 public:
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  struct Options {
    // Each write-ahead log is written over a file of this many zeros made in advance (prepared_log.hpp),
    // so that the journal's syncs carry no file-system metadata; 0: logs are appended, as RocksDB does.
    // Worth it where syncs are what acknowledgments wait for (ewxd); each log costs a write of this size.
    std::uint64_t prepared_log_bytes = 0;
    // The ledger's other writes (memtable flushes, compactions, the spares above) are paced to this many
    // bytes a second and handed to the disk kBackgroundWritePiece at a time, so that a journal sync never
    // waits behind much of them; 0: at the disk's own speed, as RocksDB writes by default. See ledger.cpp.
    std::uint64_t background_write_bytes_per_second = 0;
  };
  // The most a paced background write hands the disk at once.
  static constexpr std::uint64_t kBackgroundWritePiece = 64 << 10;

  // Opens the ledger in `dir`. A missing or empty directory is initialised when `create` (new exchange
  // key, format marker); a directory that holds anything else, or an ewx ledger RocksDB reports corrupt,
  // is an error and nothing in it is changed.
  static Result<std::unique_ptr<Ledger>> open(const std::filesystem::path& dir, bool create);
  static Result<std::unique_ptr<Ledger>> open(const std::filesystem::path& dir, bool create, const Options& options);

  // Opens `dir` read-only for auditing: no key file needed, nothing replayed or checked beyond the format
  // marker, so that a damaged ledger can still be read and its damage reported. Only the raw accessors
  // (scan, merkle_node, stored_public_key) and the record getters are meaningful on it.
  static Result<std::unique_ptr<Ledger>> open_for_audit(const std::filesystem::path& dir);

  enum class Stored { contracts, batches };
  // Visits every stored value of one kind in key order until `visit` returns false.
  Status scan(Stored what, const std::function<bool(std::uint64_t key, std::string_view value)>& visit) const;
  // Visits every journal entry in journal order, with its position, until `visit` returns false; an
  // unreadable record is a corruption error naming its position.
  Status scan_journal(const std::function<bool(std::uint64_t position, const JournalEntry& entry)>& visit) const;
  // A node of the Merkle log: stored from kFirstStoredMerkleLevel up, hashed from the contracts below.
  std::optional<Hash> merkle_node(std::uint8_t level, std::uint64_t index) const;
  std::string stored_public_key() const;

  // Appends entries to the order journal in one synced write: on return with ok, they are durable (what
  // the gateway waits for before acknowledging). Orders and offers must carry ids not seen before;
  // cancels must name open ones. Nothing is written if any entry is refused.
  Status journal(std::span<const JournalEntry> entries);
  // How a journal write waits for the disk.
  enum class Durability {
    synced,        // on return, on disk
    at_next_sync,  // on return, in the write-ahead log's file and in the open book; on disk once a
                   // sync_journal() that begins after the return has returned ok
  };
  // The same, for the gateway's group commit: entries are checked one by one in order, the admitted ones
  // written in one write, and the refused ones skipped. On ok, element k says why entry k was refused
  // (nothing: it is written, and durable as `durability` says). On error nothing was written.
  Result<std::vector<std::optional<std::string>>> journal_each(std::span<const JournalEntry> entries,
                                                               Durability durability = Durability::synced);
  // Makes every journal write that returned before this call durable (one fdatasync of the write-ahead log,
  // RocksDB's SyncWAL). Unlike everything else here it may run on another thread while the ledger's owner
  // goes on writing, so that the next group is written while this one syncs. When it fails, what was
  // written since the last good sync may or may not be on disk, and the ledger takes no more writes: only
  // reopening, which replays what is there, can say what was kept.
  Status sync_journal();

  // Records a cleared batch in one synced atomic write: its contracts (appended to the Merkle log), the
  // journal entry of its fills (the contracts themselves), index entries, the inputs and the signed record. Every order
  // and offer of the batch must be open in the journal with at least the units traded. With `committed`,
  // the recorded contracts and each order's and offer's fill are handed back too, so a caller need not
  // read them again.
  Result<BatchRecord> commit_batch(const Batch& batch, const Topology& topology, const ClearingResult& result,
                                   std::int64_t cleared_at, CommittedBatch* committed = nullptr);

  // Auditor queries. Pages hold at most `limit` contracts with ids from `start` on, in id order.
  std::optional<ContractRecord> contract(std::uint64_t id) const;
  ContractPage contracts_by(ContractIndex index, std::uint64_t key, std::uint64_t start, std::size_t limit) const;
  ContractPage contracts_in_batch(std::uint64_t batch, std::uint64_t start, std::size_t limit) const;
  ContractPage contracts_cleared_between(std::int64_t from, std::int64_t to, std::uint64_t start,
                                         std::size_t limit) const;
  std::optional<BatchRecord> batch_record(std::uint64_t number) const;
  // The latest batch record (one seek, so it also serves a ledger opened for audit); nothing when empty.
  std::optional<BatchRecord> last_batch_record() const;
  std::optional<BatchInputs> batch_inputs(std::uint64_t number) const;
  SignedHead head() const;
  std::optional<std::vector<Hash>> inclusion_proof(std::uint64_t contract, std::uint64_t log_size) const;
  std::optional<std::vector<Hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const;
  std::string public_key() const;

  const OpenBook& open_book() const { return book_; }
  // Write-ahead logs opened so far over a prepared file, and the ordinary way because no spare was ready,
  // and spares made from old logs (all 0 when Options::prepared_log_bytes is 0). Counters only: callable
  // from any thread.
  struct LogFiles {
    std::uint64_t prepared = 0, appended = 0;
    std::uint64_t recycled = 0;  // spares made from logs RocksDB was done with, not from new files
  };
  LogFiles log_files() const;
  // Bytes of writes paced by Options::background_write_bytes_per_second so far (memtable flushes,
  // compactions, spares after the first; 0 without it). Callable from any thread.
  std::uint64_t paced_write_bytes() const;
  // An open order or offer by id; nothing when it is not open.
  const OpenOrder* open_order(OrderId id) const { return book_.orders.find(id); }
  const OpenOffer* open_offer(OfferId id) const { return book_.offers.find(id); }
  std::uint64_t log_size() const { return frontier_.size(); }
  std::uint64_t batch_count() const { return batches_; }

  // An online, consistent copy of the whole ledger in `dir` (RocksDB checkpoint: hard links where possible).
  Status checkpoint(const std::filesystem::path& dir) const;

  // Fault injection for the crash tests: called at named points inside commit_batch, the journal writes and
  // sync_journal (journal-before-write, journal-after-write, journal-after-sync, commit-before-write,
  // commit-after-write).
  void set_crash_hook(std::function<void(const char* point)> hook) { crash_hook_ = std::move(hook); }

 private:
  Ledger() = default;
  Status load();
  class JournalCheck;
  Status write_journal(std::span<const JournalEntry> entries, std::span<const std::optional<std::string>> refusals,
                       Durability durability);
  Status refuse_after_failed_sync() const;
  void crash_point(const char* point) const {
    if (crash_hook_) crash_hook_(point);
  }
  // Brings the book's slots and records that the cancels among `entries` name into the cache, all at once,
  // before they are checked and applied one by one.
  void prefetch_cancelled(std::span<const JournalEntry> entries) const;
  // The open book changed as `entry` or `contract` says, the index with it.
  void apply(const JournalEntry& entry);
  void apply_fill(const ContractRecord& contract);

  // The directory, locked (flock) from before anything in it is touched until everything is closed, so
  // that a second process opening the same ledger is refused at once: RocksDB's own LOCK is taken only
  // inside DB::Open, after the key would have been read and the running ledger's spares removed. First, so
  // that it is released last.
  struct DirectoryLock {
    int fd = -1;
    DirectoryLock() = default;
    DirectoryLock(const DirectoryLock&) = delete;
    DirectoryLock& operator=(const DirectoryLock&) = delete;
    ~DirectoryLock();
  };
  DirectoryLock lock_;
  // Before db_, so that they outlive it.
  std::shared_ptr<rocksdb::RateLimiter> background_writes_;  // with Options::background_write_bytes_per_second
  std::shared_ptr<PreparedLogFileSystem> log_files_;         // with Options::prepared_log_bytes
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::optional<ExchangeKey> key_;
  std::filesystem::path dir_;
  OpenBook book_;
  Frontier frontier_;
  std::uint64_t journal_next_ = 0;
  std::uint64_t batches_ = 0;
  Hash last_record_{};
  std::function<void(const char*)> crash_hook_;
  bool audit_only_ = false;               // opened by open_for_audit: nothing loaded into memory
  std::atomic<bool> sync_failed_{false};  // set by sync_journal, read by the writes
};

}  // namespace ewx::ledger
