// Write-ahead logs that are written over, not appended to: the journal's syncs without the file system's
// own journal in them.
//
// Every acknowledgment waits for an fdatasync of RocksDB's write-ahead log. A log that grows by appending
// makes each of those syncs a metadata commit as well: ext4 (and xfs) must record the file's new size and
// newly allocated blocks through their own journal before fdatasync returns, one more write and a wait on
// the journal thread, entangled with whatever else the file system is committing (a memtable flush's new
// table, the batch inputs). A file whose blocks are already written, and whose size already covers what
// goes into it, leaves fdatasync only the data and the disk's cache flush. On this machine's disk, 4 KiB
// writes each followed by fdatasync: appending p50 228-299 us, p99 389-506 us, 110-137 us of CPU a sync;
// over a file of zeros already on disk p50 153-159 us, p99 268-383 us, 70-87 us of CPU.
//
// So each new log is made from a spare: a file of zeros, written and synced in advance on a thread of its
// own, which this file system hands to RocksDB through FileSystem::ReuseWritableFile when RocksDB asks for
// a new log. ReuseWritableFile renames it to the log's name and writes it from the start. Zeros are safe
// in RocksDB's ordinary record format: its reader skips zero-filled space without reporting anything
// (RocksDB's own mmap writer leaves the same preallocated tails), and a torn last record fails its
// checksum, so recovery ends there as it ends at a torn record at the end of an appended file. A log keeps
// its spare's size when it is closed, zeros after its last record.
//
// Spares are made from old logs. When RocksDB is done with a log (everything in it flushed) and deletes
// it, the log is renamed aside instead ("retired") and later written over with zeros into a spare: the
// same write as a new spare, but no blocks allocated and none freed. Freeing them was what made each log
// switch slow here: this file system is mounted with online discard, so a deleted 56 MiB log sent the
// disk discards that took it up to 10 ms, every journal sync waiting behind them (syncs of 15 to 20 ms at
// each switch). RocksDB's own recycle_log_file_num reuses old logs without rewriting them, but this
// RocksDB (7.8) turns it off under the point-in-time recovery the ledger relies on, and it is safe only in
// RocksDB's recyclable record format, since old records carry valid checksums: here they are gone before
// the file is a spare. Two spares are kept, so that the one made after each switch can wait the second
// or so until the log just replaced retires; a new file is written only when none is left (at start, or
// when logs switch faster than spares are made), and a retired log found with both spares ready is deleted.
//
// Nothing of this file system's is trusted after a restart: spares, spares being made and retired logs
// found when the ledger opens are deleted (new spares are made), since a crash after a log's first write
// but before its directory was synced could leave log records under a spare's name, and records with valid
// checksums in a spare could be replayed as if new. A log that outgrows its spare goes on by appending
// (the ledger switches logs at 7/8 of a spare, so only a batch of several megabytes does that), and a log
// asked for while no spare is ready is created the ordinary way: slower syncs for a while, never a fault.
//
// A spare is written while the journal is being synced, and the disk takes requests in turn: written at
// the disk's full speed (one 64 MiB write and sync) it held the journal's syncs up for tens of
// milliseconds (p99 of acknowledgments 9 to 19 ms at 100,000 a second, against 1.3 to 1.6 ms), and even
// paced, a megabyte at a time, each piece held the syncs behind it about 4 ms. So it is written and handed
// to the disk in small pieces, each taken first from the ledger's pace for background writes, the one
// RocksDB's flushes and compactions draw on too (ledger.cpp).
#pragma once

#include <rocksdb/file_system.h>
#include <rocksdb/rate_limiter.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace ewx::ledger {

class PreparedLogFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  // Spares of `bytes` each, kept in `dir` (RocksDB's directory: the rename into a log stays in one
  // directory), written and handed to the disk `piece` bytes at a time, each piece paced by `pace` when
  // there is one (the ledger's budget for writes other than the journal's, shared with RocksDB's flushes
  // and compactions). Makes the first spare before returning, at the disk's own speed since nothing else
  // runs yet, so that the log RocksDB opens with is one; throws std::system_error when that fails (the
  // directory is not writable, the disk is full).
  PreparedLogFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::filesystem::path dir, std::uint64_t bytes,
                        std::shared_ptr<rocksdb::RateLimiter> pace, std::size_t piece);
  ~PreparedLogFileSystem() override;

  static const char* kClassName() { return "EwxPreparedLogFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override;
  // A log RocksDB is done with is retired, to be made into a spare, instead of deleted.
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* debug) override;

  // Logs opened over a spare, logs opened the ordinary way because no spare was ready or reusing it failed,
  // and spares made from retired logs (for the metrics and the tests).
  std::uint64_t prepared_logs() const { return prepared_logs_.load(std::memory_order_relaxed); }
  std::uint64_t appended_logs() const { return appended_logs_.load(std::memory_order_relaxed); }
  std::uint64_t recycled_spares() const { return recycled_spares_.load(std::memory_order_relaxed); }

  // RocksDB's name for a write-ahead log: digits, then ".log".
  static bool is_log(std::string_view name);
  // The names this file system gives its own files (spares, spares being made, retired logs): "ewx-log-".
  static bool is_ours(std::string_view name);

 private:
  // Spares kept ready: one for the next log, and one more, so that the next spare can wait for the log
  // just replaced to retire (a second or so, while RocksDB flushes what it holds) and be made from it.
  static constexpr std::size_t kSpares = 2;

  void prepare_loop();
  // Writes zeros over `from` (a retired log; empty: a new file) under a temporary name, piece by piece
  // (each taken from `pace` first, when given), syncs it, renames it to `spare`; throws std::system_error.
  void prepare(const std::filesystem::path& from, const std::filesystem::path& spare, rocksdb::RateLimiter* pace) const;
  std::filesystem::path fresh_name(std::string_view prefix);  // with mutex_ held
  void remove_ours() const;

  const std::filesystem::path dir_;
  const std::uint64_t bytes_;
  const std::shared_ptr<rocksdb::RateLimiter> pace_;
  const std::size_t piece_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<std::filesystem::path> spares_;   // ready, oldest first
  std::deque<std::filesystem::path> retired_;  // logs RocksDB has deleted, oldest first
  std::uint64_t names_ = 0;                    // for fresh_name
  bool failed_ = false;                        // the last spare failed: wait for a log to open or retire
  std::atomic<bool> stopping_{false};          // also read by a spare being made, which then stops
  std::atomic<std::uint64_t> prepared_logs_{0}, appended_logs_{0}, recycled_spares_{0};
  std::thread preparer_;
};

}  // namespace ewx::ledger
