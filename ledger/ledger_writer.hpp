// The ledger's single writer: one thread owns the Ledger, and everything that writes it or reads its
// in-memory state runs there, in the order it was handed over.
//
// Why one thread: the Ledger is deliberately not thread-safe (its open book, Merkle frontier and journal
// position move together with each write), and a synced RocksDB write costs the same whether it carries one
// entry or ten thousand. So journal appends from every session queue up here and are written in groups:
// while one synced write is in flight the next group collects, and each sync is shared by every order that
// arrived during the previous one (group commit). Under light load a group is one entry and the latency is
// one sync; under heavy load groups grow and throughput follows the write bandwidth, not the sync rate.
//
// Work other than appends (queries, batch commits) is a task run between groups, so it sees every append
// handed over before it and none after.
#pragma once

#include <atomic>
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
  // empty when it is durable. When `status` is not ok the write failed and none of the group was written.
  struct GroupOutcome {
    std::span<const std::uint64_t> tags;
    std::span<const std::optional<std::string>> refusals;
    const Status& status;
  };
  using OnGroup = std::function<void(const GroupOutcome&)>;

  // Takes the ledger over; `on_group` runs on the writer thread after each group's write.
  LedgerWriter(std::unique_ptr<Ledger> ledger, OnGroup on_group);
  ~LedgerWriter();  // finishes everything handed over, then stops
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Queues one journal entry; `tag` identifies it to on_group. Callable from any thread.
  void append(JournalEntry entry, std::uint64_t tag);
  // Queues a task that gets the ledger to itself, after every append handed over before it.
  void run(std::function<void(Ledger&)> task);

  // Runs everything handed over so far, then stops the thread. Later calls to append or run are dropped.
  void stop();

  // The largest group written so far (for metrics and the benchmark's report).
  std::size_t largest_group() const { return largest_group_.load(std::memory_order_relaxed); }
  std::uint64_t groups_written() const { return groups_.load(std::memory_order_relaxed); }

 private:
  struct Append {
    JournalEntry entry;
    std::uint64_t tag;
  };
  using Work = std::variant<Append, std::function<void(Ledger&)>>;

  void loop();
  void write_group(std::vector<JournalEntry>& entries, std::vector<std::uint64_t>& tags);

  std::unique_ptr<Ledger> ledger_;
  OnGroup on_group_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Work> queue_;
  bool stopping_ = false;
  std::atomic<std::size_t> largest_group_{0};
  std::atomic<std::uint64_t> groups_{0};
  std::thread thread_;
};

}  // namespace ewx::ledger
