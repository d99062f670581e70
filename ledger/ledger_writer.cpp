// The writer's and the syncer's loops (design in ledger_writer.hpp). The queue is swapped out whole under
// the lock, so producers wait only for a vector swap, never for a write; consecutive appends in it form one
// group. The syncer likewise takes every written group at once, so one sync serves all of them.
#include "ledger/ledger_writer.hpp"

#include <pthread.h>

#include <algorithm>

namespace ewx::ledger {

LedgerWriter::LedgerWriter(std::unique_ptr<Ledger> ledger, OnGroup on_group)
    : ledger_(std::move(ledger)),
      on_group_(std::move(on_group)),
      syncer_([this] {
        pthread_setname_np(pthread_self(), "ewx-sync");  // so that top -H and perf tell the threads apart
        sync_loop();
      }),
      writer_([this] {
        pthread_setname_np(pthread_self(), "ewx-journal");
        write_loop();
      }) {}

LedgerWriter::~LedgerWriter() { stop(); }

bool LedgerWriter::writer_due() const {
  return stopping_ || tasks_queued_ > 0 || (appends_queued_ > 0 && (!sync_busy() || appends_queued_ >= kEagerGroup));
}

void LedgerWriter::append(JournalEntry entry, std::uint64_t tag) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  queue_.emplace_back(Append{std::move(entry), tag});
  ++appends_queued_;
  if (writer_due()) writer_wake_.notify_one();
}

void LedgerWriter::append(std::vector<JournalEntry>& entries, std::uint64_t first_tag) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      for (std::size_t k = 0; k < entries.size(); ++k) queue_.emplace_back(Append{std::move(entries[k]), first_tag + k});
      appends_queued_ += entries.size();
      if (writer_due()) writer_wake_.notify_one();
    }
  }
  entries.clear();
}

void LedgerWriter::run(std::function<void(Ledger&)> task) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  queue_.emplace_back(std::move(task));
  ++tasks_queued_;
  writer_wake_.notify_one();
}

void LedgerWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    writer_wake_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) syncer_.join();
}

void LedgerWriter::write_loop() {
  std::vector<Work> work;
  std::vector<JournalEntry> entries;
  std::vector<std::uint64_t> tags;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      writer_wake_.wait(lock, [&] { return writer_due(); });
      if (queue_.empty()) break;  // stopping, and everything handed over is written
      work.swap(queue_);
      appends_queued_ = tasks_queued_ = 0;
    }
    for (Work& item : work) {
      if (auto* append = std::get_if<Append>(&item)) {
        entries.push_back(std::move(append->entry));
        tags.push_back(append->tag);
        if (entries.size() == kLargestGroup) write_group(entries, tags);
        continue;
      }
      write_group(entries, tags);
      wait_until_reported();
      std::get<std::function<void(Ledger&)>>(item)(*ledger_);
    }
    write_group(entries, tags);
    work.clear();
  }
  std::lock_guard lock(mutex_);
  writer_done_ = true;
  syncer_wake_.notify_one();
}

void LedgerWriter::write_group(std::vector<JournalEntry>& entries, std::vector<std::uint64_t>& tags) {
  if (entries.empty()) return;
  Written group;
  auto written = ledger_->journal_each(entries, Ledger::Durability::at_next_sync);
  if (written.is_ok()) {
    group.refusals = std::move(written.value());
    group.wrote = std::any_of(group.refusals.begin(), group.refusals.end(), [](const auto& r) { return !r; });
  } else {
    group.status = written.status();
  }
  group.tags = std::move(tags);
  groups_.fetch_add(1, std::memory_order_relaxed);
  if (entries.size() > largest_group_.load(std::memory_order_relaxed))
    largest_group_.store(entries.size(), std::memory_order_relaxed);
  entries.clear();
  tags.clear();
  {
    std::lock_guard lock(mutex_);
    // Inline only when every group before it is reported (not merely synced: the syncer may still be
    // reporting its last), since groups are reported in order.
    const bool inline_sync = reported_count_ == written_ && appends_queued_ < kEagerGroup;
    ++written_;
    if (!inline_sync) {
      unsynced_.push_back(std::move(group));
      syncer_wake_.notify_one();
      return;
    }
    sync_in_flight_ = true;
  }
  // Nothing in flight and little waiting: this thread syncs the group itself, which spares the two switches
  // of threads a handover to the syncer and back would cost, since it would have nothing to do meanwhile.
  std::vector<Written> groups;
  groups.push_back(std::move(group));
  report(groups, sync(groups));
  std::lock_guard lock(mutex_);
  sync_in_flight_ = false;
  reported_count_ += 1;
  reported_.notify_all();
}

LedgerWriter::Synced LedgerWriter::sync(const std::vector<Written>& groups) {
  if (std::none_of(groups.begin(), groups.end(), [](const Written& g) { return g.wrote; })) return {Status::ok(), {}};
  const auto began = std::chrono::steady_clock::now();
  Status status = ledger_->sync_journal();
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return {std::move(status),
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began)};
}

void LedgerWriter::report(const std::vector<Written>& groups, const Synced& synced) {
  std::optional<std::chrono::microseconds> sync_time = synced.time;
  std::vector<std::optional<std::string>> failed;
  for (const Written& group : groups) {
    const Status& status = group.status.is_ok() ? synced.status : group.status;
    if (status.is_ok()) {
      on_group_(GroupOutcome{group.tags, group.refusals, status, sync_time});
    } else {
      failed.assign(group.tags.size(), status.message());
      on_group_(GroupOutcome{group.tags, failed, status, sync_time});
    }
    sync_time.reset();
  }
}

void LedgerWriter::wait_until_reported() {
  std::unique_lock lock(mutex_);
  reported_.wait(lock, [&] { return reported_count_ == written_; });
}

void LedgerWriter::sync_loop() {
  std::vector<Written> groups;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      syncer_wake_.wait(lock, [&] { return writer_done_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // the writer has stopped, and everything it wrote is reported
      groups.swap(unsynced_);
      sync_in_flight_ = true;
    }
    const Synced synced = sync(groups);
    {
      // What piled up during the sync can be written now, while this thread reports.
      std::lock_guard lock(mutex_);
      sync_in_flight_ = false;
      if (writer_due()) writer_wake_.notify_one();
    }
    report(groups, synced);
    {
      std::lock_guard lock(mutex_);
      reported_count_ += groups.size();
      reported_.notify_all();
    }
    groups.clear();
  }
}

}  // namespace ewx::ledger
