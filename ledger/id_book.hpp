// One side of the open book: the orders (or offers) still open, by id, in id order.
//
// The exchange hands out ids in sequence, one counter per side, and the journal opens them in that order;
// most close soon after (cancelled, filled, expired), a few stay open for days. The book used to be a
// std::map with a hash index beside it for lookups by id. In a flood with one request in ten a cancel,
// closing an order (the red-black tree's rebalancing, a cache miss at each of its lower levels in a tree of
// millions) and keeping the index cost the ledger's writer some 12 % of this 2-core machine (its profile).
//
// Here ids are grouped in pages of 256 consecutive ids. A page holds, for each of its ids, the place of the
// id's record in a pool (0: not open), and the pages are found in an ordered directory (a B-tree: a few
// pages' numbers to a cache line, so the directory of a book of millions, some thousands of pages, stays in
// the cache). Opening the next id touches the last page opened, found without the directory; a lookup is a
// walk down the small directory, the page's slot and then the record; closing clears the slot. A page is
// dropped when its last id closes, so memory follows what is open, however far apart the ids: a record per
// open id and at most a 1 KiB page each (batch files from other tools number offers from 10^9 or 7x10^13).
//
// Records live in a pool of chunks of 256, so none moves when the pool grows: a pointer from find stays good
// until that id is erased. A closed record's place is taken by the next record opened. (Not a std::deque:
// libstdc++'s keeps 512 bytes to a chunk, three records here, and its map of chunks, megabytes for a book
// of millions, cost a cache miss of its own on every lookup.) A chunk is made, and every record in it
// constructed, when its first record opens, in memory the process has never touched: a page fault for
// each of its pages, on the ledger's writer, between a journal write and its sync. Chunks of 4096 orders
// (480 KiB) took the writer 1.4 ms each in ewxd at 100,000 entries a second, some 20 times a second,
// and those pauses were most of the answers over 1 ms; a chunk of 256 is 8 pages (30 KiB).
//
// Against the tree and index, a flood on this machine went from 1.06-1.16M to 1.08-1.27M durable acks/s
// (5 runs each, alternated; the writer thread's share of the machine from 27 % to 25 %).
//
// Iteration is in id order, page by page, yielding (id, record) pairs by value.
#pragma once

#include <absl/container/btree_map.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace ewx::ledger {

template <typename Id, typename T>
class IdBook {
  static constexpr unsigned kPageBits = 8;
  static constexpr std::size_t kPageIds = std::size_t{1} << kPageBits;
  struct Page {
    std::array<std::uint32_t, kPageIds> record{};  // 1 + the record's place in the pool; 0: not open
    std::uint32_t open = 0;
  };
  // Declared ahead of const_iterator, whose members name it (clang looks names up where they are written).
  using Pages = absl::btree_map<std::uint64_t, std::unique_ptr<Page>>;

 public:
  IdBook() = default;
  IdBook(IdBook&& other) noexcept { *this = std::move(other); }
  IdBook& operator=(IdBook&& other) noexcept {
    pages_ = std::move(other.pages_);
    chunks_ = std::move(other.chunks_);
    free_ = std::move(other.free_);
    made_ = std::exchange(other.made_, 0);
    size_ = std::exchange(other.size_, 0);
    last_ = std::exchange(other.last_, {});
    other.pages_.clear();
    return *this;
  }
  // A copy (tests keep the book as it stood, to compare it with a replay).
  IdBook(const IdBook& other) : made_(other.made_), free_(other.free_), size_(other.size_) {
    for (const auto& chunk : other.chunks_) {
      chunks_.push_back(std::make_unique<T[]>(kChunkRecords));
      std::copy(chunk.get(), chunk.get() + kChunkRecords, chunks_.back().get());
    }
    for (const auto& [number, page] : other.pages_)
      pages_.emplace_hint(pages_.end(), number, std::make_unique<Page>(*page));
  }
  IdBook& operator=(const IdBook& other) {
    if (this != &other) *this = IdBook(other);
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const T* find(Id id) const {
    const Page* page = page_of(id);
    const std::uint32_t at = page ? page->record[id & (kPageIds - 1)] : 0;
    return at ? &record(at) : nullptr;
  }
  T* find(Id id) { return const_cast<T*>(std::as_const(*this).find(id)); }
  bool contains(Id id) const { return find(id) != nullptr; }

  // Opens `id` with `value`, or replaces its record when it is open already.
  T& insert_or_assign(Id id, T value) {
    Page& page = page_for(id);
    std::uint32_t& at = page.record[id & (kPageIds - 1)];
    if (at) return record(at) = std::move(value);
    if (free_.empty()) {
      if (made_ % kChunkRecords == 0) chunks_.push_back(std::make_unique<T[]>(kChunkRecords));
      at = static_cast<std::uint32_t>(++made_);
    } else {
      at = free_.back() + 1;
      free_.pop_back();
    }
    ++page.open;
    ++size_;
    return record(at) = std::move(value);
  }

  // Closes `id`; nothing when it is not open.
  void erase(Id id) {
    Page* page = page_of(id);
    std::uint32_t* at = page ? &page->record[id & (kPageIds - 1)] : nullptr;
    if (!at || !*at) return;
    record(*at) = T{};  // gives back what the record holds now, not when its place is taken again
    free_.push_back(*at - 1);
    *at = 0;
    --size_;
    if (--page->open == 0) {
      if (last_.page == page) last_ = {};
      pages_.erase(static_cast<std::uint64_t>(id) >> kPageBits);
    }
  }

  // Brings the slot that find(id) reads first into the cache (the record it names is a second step).
  void prefetch(Id id) const {
    if (const Page* page = page_of(id)) __builtin_prefetch(&page->record[id & (kPageIds - 1)]);
  }

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::pair<Id, const T&>;
    using reference = value_type;
    using pointer = void;
    using difference_type = std::ptrdiff_t;

    value_type operator*() const {
      return {static_cast<Id>(page_->first << kPageBits | slot_), book_->record(page_->second->record[slot_])};
    }
    const_iterator& operator++() {
      ++slot_;
      settle();
      return *this;
    }
    bool operator==(const const_iterator& other) const { return page_ == other.page_ && slot_ == other.slot_; }

   private:
    friend class IdBook;
    const_iterator(const IdBook* book, typename Pages::const_iterator page) : book_(book), page_(page) { settle(); }
    // On the next open id from here, or the end. (A page in the directory has an open id.)
    void settle() {
      for (; page_ != book_->pages_.end(); ++page_, slot_ = 0) {
        while (slot_ < kPageIds && page_->second->record[slot_] == 0) ++slot_;
        if (slot_ < kPageIds) return;
      }
      slot_ = 0;
    }
    const IdBook* book_;
    typename Pages::const_iterator page_;
    std::size_t slot_ = 0;
  };
  const_iterator begin() const { return const_iterator(this, pages_.begin()); }
  const_iterator end() const { return const_iterator(this, pages_.end()); }

 private:
  const Page* page_of(Id id) const {
    const std::uint64_t number = static_cast<std::uint64_t>(id) >> kPageBits;
    if (last_.page && last_.number == number) return last_.page;
    const auto at = pages_.find(number);
    return at == pages_.end() ? nullptr : at->second.get();
  }
  Page* page_of(Id id) { return const_cast<Page*>(std::as_const(*this).page_of(id)); }

  Page& page_for(Id id) {
    const std::uint64_t number = static_cast<std::uint64_t>(id) >> kPageBits;
    if (last_.page && last_.number == number) return *last_.page;
    auto& page = pages_[number];
    if (!page) page = std::make_unique<Page>();
    last_ = {number, page.get()};
    return *page;
  }

  Pages pages_;  // by page number (id >> kPageBits); only pages with an open id
  // The page the last id was opened in, where the next one usually goes.
  struct Last {
    std::uint64_t number = 0;
    Page* page = nullptr;
  } last_;
  // The record at `at` (1 + its place in the pool).
  const T& record(std::uint32_t at) const { return chunks_[(at - 1) / kChunkRecords][(at - 1) % kChunkRecords]; }
  T& record(std::uint32_t at) { return const_cast<T&>(std::as_const(*this).record(at)); }

  static constexpr std::size_t kChunkRecords = 256;
  std::vector<std::unique_ptr<T[]>> chunks_;  // the pool: records 0..made_-1, kChunkRecords to a chunk
  std::size_t made_ = 0;
  std::vector<std::uint32_t> free_;  // places in the pool of closed records
  std::size_t size_ = 0;
};

}  // namespace ewx::ledger
