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
// a new log. ReuseWritableFile renames it to the log's name and writes it from the start. RocksDB's own
// recycle_log_file_num reuses old logs instead, but this RocksDB (7.8) turns it off under the point-in-time
// recovery the ledger relies on, and an old log is safe to reuse only in RocksDB's recyclable record format,
// since its records carry valid checksums. Zeros are safe in the ordinary format: its reader skips
// zero-filled space without reporting anything (RocksDB's own mmap writer leaves the same preallocated
// tails), and a torn last record fails its checksum, so recovery ends there as it ends at a torn record
// at the end of an appended file. A log closed cleanly is trimmed to what was written (RocksDB truncates a
// log it preallocated when it closes it).
//
// A spare is trusted only if this process made it: one found when the ledger opens is deleted and made
// again, since a crash after a log's first write but before its directory was synced could leave log records
// under the spare's name, and records with valid checksums in a spare could be replayed as if new. A log
// that outgrows its spare goes on by appending, and a log asked for while no spare is ready is created the
// ordinary way: slower syncs for a while, never a fault.
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

  // Logs opened over a spare, and logs opened the ordinary way because no spare was ready or reusing it
  // failed (for the metrics and the tests).
  std::uint64_t prepared_logs() const { return prepared_logs_.load(std::memory_order_relaxed); }
  std::uint64_t appended_logs() const { return appended_logs_.load(std::memory_order_relaxed); }

  // RocksDB's name for a write-ahead log: digits, then ".log".
  static bool is_log(std::string_view name);

 private:
  void prepare_loop();
  // Writes a spare under a temporary name, piece by piece (each taken from `pace` first, when given),
  // syncs it, renames it into place; throws std::system_error.
  void prepare(rocksdb::RateLimiter* pace) const;

  const std::filesystem::path spare_, preparing_;
  const std::uint64_t bytes_;
  const std::shared_ptr<rocksdb::RateLimiter> pace_;
  const std::size_t piece_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  bool spare_ready_ = false;           // a spare of ours is at spare_
  bool spare_wanted_ = false;          // a spare was taken (or none was ready) since the last one was begun
  std::atomic<bool> stopping_{false};  // also read by a spare being made, which then stops
  std::atomic<std::uint64_t> prepared_logs_{0}, appended_logs_{0};
  std::thread preparer_;
};

}  // namespace ewx::ledger
