// The single writer's loop (design in ledger_writer.hpp). The queue is swapped out whole under the lock, so
// producers wait only for a vector swap, never for a write; consecutive appends in it form one group.
#include "ledger/ledger_writer.hpp"

namespace ewx::ledger {

LedgerWriter::LedgerWriter(std::unique_ptr<Ledger> ledger, OnGroup on_group)
    : ledger_(std::move(ledger)), on_group_(std::move(on_group)), thread_([this] { loop(); }) {}

LedgerWriter::~LedgerWriter() { stop(); }

void LedgerWriter::append(JournalEntry entry, std::uint64_t tag) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.emplace_back(Append{std::move(entry), tag});
  }
  wake_.notify_one();
}

void LedgerWriter::run(std::function<void(Ledger&)> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.emplace_back(std::move(task));
  }
  wake_.notify_one();
}

void LedgerWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LedgerWriter::loop() {
  std::vector<Work> work;
  std::vector<JournalEntry> entries;
  std::vector<std::uint64_t> tags;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything handed over is done
      work.swap(queue_);
    }
    for (Work& item : work) {
      if (auto* append = std::get_if<Append>(&item)) {
        entries.push_back(std::move(append->entry));
        tags.push_back(append->tag);
        continue;
      }
      write_group(entries, tags);
      std::get<std::function<void(Ledger&)>>(item)(*ledger_);
    }
    write_group(entries, tags);
    work.clear();
  }
}

void LedgerWriter::write_group(std::vector<JournalEntry>& entries, std::vector<std::uint64_t>& tags) {
  if (entries.empty()) return;
  auto written = ledger_->journal_each(entries);
  std::vector<std::optional<std::string>> failed;
  if (!written.is_ok()) failed.assign(entries.size(), written.status().message());
  const auto& refusals = written.is_ok() ? written.value() : failed;
  on_group_(GroupOutcome{tags, refusals, written.status()});
  groups_.fetch_add(1, std::memory_order_relaxed);
  if (entries.size() > largest_group_.load(std::memory_order_relaxed))
    largest_group_.store(entries.size(), std::memory_order_relaxed);
  entries.clear();
  tags.clear();
}

}  // namespace ewx::ledger
