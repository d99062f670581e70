// The growth beside the io thread (design in client_order_ids.hpp). Each round hands the builder one frozen
// table, and rounds follow one another (the next starts only once the last is joined), so when a round ends
// the built table holds every frozen one, in the order they were frozen: a later entry, or tombstone, for
// an id overrides an earlier one, as in a lookup.
#include "exchange/client_order_ids.hpp"

#include <pthread.h>

#include <algorithm>

namespace ewx {

ClientOrderIds::~ClientOrderIds() {
  if (builder_.joinable()) builder_.join();
  if (releaser_.joinable()) releaser_.join();
}

const ClientOrderIds::Known* ClientOrderIds::find(const Key& key) const {
  if (const auto at = recent_.find(key); at != recent_.end()) return erased(at->second) ? nullptr : &at->second;
  for (auto table = frozen_.rbegin(); table != frozen_.rend(); ++table)
    if (const auto at = (*table)->find(key); at != (*table)->end()) return erased(at->second) ? nullptr : &at->second;
  return nullptr;
}

ClientOrderIds::Lookup ClientOrderIds::find_or_add(const Key& key) {
  if (growing()) {
    if (built_.load(std::memory_order_acquire)) take_built();
  } else if (recent_.capacity() >= tuning_.grow_beside_from && recent_.size() >= recent_.capacity() / 4 * 3) {
    // Three-quarters full: short of the seven-eighths at which the table would grow in place.
    grown_ = std::make_unique<Table>();
    freeze_recent(2 * recent_.size());
  }
  if (!growing()) {  // one table: one probe
    const auto [at, added] = recent_.try_emplace(key);
    if (!added) return {&at->second, nullptr};
    ++size_;
    return {nullptr, &at->second};
  }
  if (const Known* known = find(key)) return {known, nullptr};
  ++size_;
  Known& added = recent_[key];  // new, or over a tombstone
  added = Known{};
  return {nullptr, &added};
}

void ClientOrderIds::erase(const Key& key) {
  if (!growing()) {
    size_ -= recent_.erase(key);
    return;
  }
  if (!find(key)) return;
  --size_;
  recent_.insert_or_assign(key, Known{});  // a tombstone: a frozen table may hold the key, and is not touched
}

void ClientOrderIds::reserve(std::size_t ids) {
  settle();
  recent_.reserve(ids);
}

void ClientOrderIds::freeze_recent(std::size_t room) {
  const std::size_t ids = recent_.size();
  frozen_.push_back(std::make_unique<const Table>(std::move(recent_)));
  recent_ = Table();
  // Room for what a round's time brings, so that the recent table seldom grows in place itself.
  recent_.reserve(std::max<std::size_t>(ids / 4, 1024));
  built_.store(false, std::memory_order_relaxed);
  ++rounds_;
  builder_ = std::thread([this, from = frozen_.back().get(), room] {
    pthread_setname_np(pthread_self(), "ewx-client-ids");
    if (room) grown_->reserve(room);
    copy_into(*grown_, *from);
    built_.store(true, std::memory_order_release);
  });
}

void ClientOrderIds::take_built() {
  builder_.join();  // done: at once
  if (recent_.size() > tuning_.move_inline_up_to) return freeze_recent(0);
  settle();
}

void ClientOrderIds::settle() {
  if (!growing()) return;
  if (builder_.joinable()) builder_.join();
  copy_into(*grown_, recent_);
  recent_ = std::move(*grown_);
  grown_.reset();
  if (releaser_.joinable()) releaser_.join();  // the growth before this one's: long done
  releaser_ = std::thread([tables = std::move(frozen_)]() mutable {
    pthread_setname_np(pthread_self(), "ewx-client-ids");
    tables.clear();
  });
  frozen_.clear();  // moved from: empty, but in no state the standard names
}

void ClientOrderIds::copy_into(Table& to, const Table& from) {
  for (const auto& [key, known] : from) {
    if (erased(known))
      to.erase(key);
    else
      to.insert_or_assign(key, known);
  }
}

}  // namespace ewx
