// The ledger's single writer: one thread owns the Ledger, and everything that writes it or reads its
// in-memory state runs there, in the order it was handed over.
//
// Why one thread: the Ledger is deliberately not thread-safe (its open book, Merkle frontier and journal
// position move together with each write), and a synced RocksDB write costs the same whether it carries one
// entry or ten thousand. So journal appends from every session queue up here and are written in groups
// (group commit). Under light load a group is one entry and the latency is one sync; under heavy load
// groups grow and throughput follows the write bandwidth, not the sync rate.
//
// Writing and syncing are pipelined on two threads. The writer checks a group, writes it into the
// write-ahead log without waiting for the disk (Ledger::Durability::at_next_sync) and goes on to the next;
// a second thread, the syncer, syncs the log (Ledger::sync_journal) again and again, and after each sync
// reports as durable every group written before it began. While one sync is on its way to the disk, the
// writer is checking and encoding what comes next, where with one thread it sat idle for the sync's length
// and then made the next group wait for its own work. Groups are reported in the order they were written.
//
// When to wake the writer. Entries that arrive during a sync can be durable only after the next one, so
// writing them the moment they come gains nothing unless they are many: the writer is woken when the
// syncer is idle (the entries can be synced at once), when a sync ends with entries waiting, when a sync
// in flight has let kEagerGroup entries pile up (under heavy load, so that writing overlaps the sync), or
// for a task. Waking it for every handover, as a writer that only ever waited for work would be, costs a
// switch of threads per handover (tens of microseconds on this virtual machine), for groups that would then
// wait for the sync anyway.
//
// When nothing is in flight and little waits, the writer syncs the group it has just written itself, as a
// single-threaded group commit would: handing it to the syncer would only add two switches of threads to
// every acknowledgment at moderate load, the writer having nothing else to do meanwhile.
//
// Work other than appends (queries, batch snapshots and commits) is a task run between groups. Before a
// task runs, every group written before it has been synced and reported, so a task sees exactly what has
// been acknowledged, and whatever it makes known (a fill, a contract) is announced after the acks of the
// orders it concerns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "ledger/ledger.hpp"

namespace ewx::ledger {

class LedgerWriter {
 public:
  // What became of a group of appends: refusals[k] says why entry k (tagged tags[k]) was not written, or is
  // empty when it is durable. When `status` is not ok the write or its sync failed and none of the group
  // may be taken as durable.
  struct GroupOutcome {
    std::span<const std::uint64_t> tags;
    std::span<const std::optional<std::string>> refusals;
    const Status& status;
    // How long the sync took that made this group durable: on the first group a sync reports, so that
    // summing over groups counts each sync once.
    std::optional<std::chrono::microseconds> sync_time;
  };
  using OnGroup = std::function<void(const GroupOutcome&)>;

  // Takes the ledger over; `on_group` runs on the syncer thread once each group is durable (or has failed),
  // group after group in the order they were appended.
  LedgerWriter(std::unique_ptr<Ledger> ledger, OnGroup on_group);
  ~LedgerWriter();  // finishes everything handed over, then stops
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Queues one journal entry; `tag` identifies it to on_group. Callable from any thread.
  void append(JournalEntry entry, std::uint64_t tag);
  // Queues entries tagged first_tag, first_tag + 1, ... in one handover (one wake-up of the writer), and
  // empties `entries`.
  void append(std::vector<JournalEntry>& entries, std::uint64_t first_tag);
  // Queues a task that gets the ledger to itself, after every append handed over before it is durable and
  // reported.
  void run(std::function<void(Ledger&)> task);

  // Runs everything handed over so far, then stops both threads. Later calls to append or run are dropped.
  void stop();

  // The largest group written so far, and the groups and syncs (for metrics and the benchmark's report).
  std::size_t largest_group() const { return largest_group_.load(std::memory_order_relaxed); }
  std::uint64_t groups_written() const { return groups_.load(std::memory_order_relaxed); }
  std::uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
  // The ledger's count of its write-ahead logs (Ledger::log_files: counters only, safe from any thread).
  Ledger::LogFiles log_files() const { return ledger_->log_files(); }
  std::uint64_t paced_write_bytes() const { return ledger_->paced_write_bytes(); }  // the same: counters only

 private:
  struct Append {
    JournalEntry entry;
    std::uint64_t tag;
  };
  using Work = std::variant<Append, std::function<void(Ledger&)>>;
  // A group written into the log and not yet reported.
  struct Written {
    std::vector<std::uint64_t> tags;
    std::vector<std::optional<std::string>> refusals;
    Status status = Status::ok();
    bool wrote = false;  // something of it went into the log (not all refused, no failed write)
  };

  // Entries waiting in the queue, past which a sync in flight no longer holds back the writer.
  static constexpr std::size_t kEagerGroup = 256;
  // The most entries one write carries: a longer queue is written in groups of this many, each handed to
  // the syncer as soon as it is written, so that the first are synced and acknowledged while the last are
  // still being written, where one write of the whole queue made every entry of it wait for all of it.
  static constexpr std::size_t kLargestGroup = 2048;

  void write_loop();
  void sync_loop();
  void write_group(std::vector<JournalEntry>& entries, std::vector<std::uint64_t>& tags);
  void wait_until_reported();
  // A sync of the journal for `groups` (none when nothing of them went into the log), and its outcome
  // reported group by group, in order: on the syncer, or on the writer when it syncs itself.
  struct Synced {
    Status status;
    std::optional<std::chrono::microseconds> time;
  };
  Synced sync(const std::vector<Written>& groups);
  void report(const std::vector<Written>& groups, const Synced& synced);
  // With mutex_ held: whether the rule above has the writer write now.
  bool writer_due() const;
  bool sync_busy() const { return sync_in_flight_ || !unsynced_.empty(); }

  std::unique_ptr<Ledger> ledger_;
  OnGroup on_group_;

  // One lock for the queue and the state of the sync, so that the decision to wake the writer never misses
  // a sync that has just ended or an entry that has just come.
  std::mutex mutex_;
  std::condition_variable writer_wake_, syncer_wake_, reported_;
  std::vector<Work> queue_;
  std::size_t appends_queued_ = 0, tasks_queued_ = 0;
  bool stopping_ = false;
  std::vector<Written> unsynced_;  // written, not yet taken by the syncer
  bool sync_in_flight_ = false;
  std::uint64_t written_ = 0, reported_count_ = 0;
  bool writer_done_ = false;

  std::atomic<std::size_t> largest_group_{0};
  std::atomic<std::uint64_t> groups_{0}, syncs_{0};
  std::thread syncer_, writer_;
};

}  // namespace ewx::ledger
