// The client order ids already taken, and what each became: the table behind idempotent resends.
//
// Every submission looks its (participant, side, client order id) up here on the io thread, and a new one is
// added. Under a flood the table grows by close to a million ids a second, and it is never emptied, since a
// resend must find its order however old. An open-addressing table grows by doubling, and moves every entry
// on the thread whose insert tipped it over: at 3.7 million ids that was one stall of 0.52 s on ewxd's io
// thread (this 2-core machine), every connection waiting, a tenth of a 6 s flood lost in one go.
//
// So the table grows beside the io thread. When it is three-quarters full it is frozen, and a builder
// thread copies it into a table twice its size. Meanwhile new ids go to a table of recent ones, and a
// lookup tries the recent ids first, then the frozen ones (only while growing: otherwise there is one
// table and one probe). When the builder is done the io thread moves the recent ids over and installs the
// new table. If the recent ids are many by then (a long build under heavy load), they are frozen in turn
// and the builder moves them too, each round shorter than the one before.
//
// Erasing (a submission refused because its journal write failed) must not touch a frozen table, which
// the builder may be reading. So while the table grows, an erased id is written into the recent table as a
// tombstone: the exchange's id 0, which no order or offer has (ids start at 1). The tombstone hides any
// older entry for the id, and the moves drop the two together.
//
// When a growth ends, the frozen tables are let go on a thread of their own: freeing a table returns its
// pages to the system, 12 ms for one of 3 million ids on this 2-core machine (24 ms at 6 million), which on
// the io thread was a pause for every connection at each doubling.
//
// Threads: every call on one thread (the io thread); the builder only reads frozen tables and writes the
// one it builds, and hands it over through an atomic flag; the releaser only destroys tables no one holds.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "matcher/market.hpp"

namespace ewx {

class ClientOrderIds {
 public:
  // A client order id, scoped to its participant and side.
  struct Key {
    ParticipantId account = 0;
    bool offer = false;
    std::uint64_t client_order_id = 0;
    bool operator==(const Key&) const = default;
  };
  // What it became.
  struct Known {
    std::uint64_t id = 0;   // the exchange's id (0 only in a tombstone, never handed out)
    std::uint64_t tag = 0;  // the journal write that carried it (0: read from the journal at start)
  };
  // Keeps a participant's consecutive client order ids side by side in the table. Traders number their
  // orders 1, 2, 3, ..., and a uniform hash sent each new id to a cache line of its own: a miss per
  // submission, the io thread's largest cost at a million a second. Here 64 consecutive ids of one
  // participant and side start their probes at 64 consecutive slots, so a new order's slot is usually in
  // a line (and a page) its predecessors brought in; runs themselves are spread by a full mix. Runs of 64
  // rather than 8 took a flood from 0.85-0.97M to 0.93-0.99M acks/s (3 runs each, alternated): in a table
  // of millions every new run was a miss in the TLB as well as the cache. Abseil's table takes the start
  // of the probe from the hash's upper bits (hash >> 7) and a 7-bit tag for its quick compare from the
  // lower ones, so the tag is given the id's place in its run, which tells run-mates apart.
  struct Hash {
    std::size_t operator()(const Key& k) const {
      std::uint64_t run = (k.account * 2 + k.offer) * 0x9e3779b97f4a7c15ull ^ (k.client_order_id >> 6);
      run ^= run >> 30;  // splitmix64's finaliser
      run *= 0xbf58476d1ce4e5b9ull;
      run ^= run >> 27;
      run *= 0x94d049bb133111ebull;
      run ^= run >> 31;
      const std::uint64_t place = k.client_order_id & 63;
      return static_cast<std::size_t>((run << 6 | place) << 7 | (run >> 63) << 6 | place);
    }
  };

  struct Tuning {
    // Below this many slots the table grows in place, as any table does: the stall is short, and a small
    // exchange (a test, the demo) needs no second thread.
    std::size_t grow_beside_from = std::size_t{1} << 16;
    // When a build ends with at most this many recent ids, the io thread moves them itself (some 10 ns
    // each); with more, they go to the builder for another round.
    std::size_t move_inline_up_to = std::size_t{1} << 14;
  };

  ClientOrderIds() : ClientOrderIds(Tuning{}) {}
  explicit ClientOrderIds(Tuning tuning) : tuning_(tuning) {}
  ~ClientOrderIds();
  ClientOrderIds(const ClientOrderIds&) = delete;
  ClientOrderIds& operator=(const ClientOrderIds&) = delete;

  // What find_or_add found: the entry already known for the key, or the one it made for it, zero, for the
  // caller to fill at once (an id of 0 would read as erased). Pointers are good until the next call.
  struct Lookup {
    const Known* known = nullptr;
    Known* added = nullptr;
  };
  Lookup find_or_add(const Key& key);
  // Forgets `key` (nothing when it is not known).
  void erase(const Key& key);
  // The ids known, each once.
  std::size_t size() const { return size_; }
  // Room for `ids` ids before the next growth. Finishes a growth under way first, on this thread.
  void reserve(std::size_t ids);
  // Whether a growth is under way (for the tests), and the builder's rounds so far (tests and /metrics).
  bool growing() const { return !frozen_.empty(); }
  std::uint64_t rounds() const { return rounds_; }

 private:
  using Table = absl::flat_hash_map<Key, Known, Hash>;
  static bool erased(const Known& known) { return known.id == 0; }

  // The entry for `key` wherever it is (nothing for an unknown or erased key).
  const Known* find(const Key& key) const;
  // When the builder is done: installs its table, or freezes the recent ids for another round.
  void take_built();
  // Freezes the recent ids and starts the builder copying them into grown_, made with room for `room` ids
  // first when it is new.
  void freeze_recent(std::size_t room);
  // Everything in `from` into `to`, a tombstone erasing what it hides.
  static void copy_into(Table& to, const Table& from);
  // Waits for the builder and moves everything into one table, on this thread.
  void settle();

  Tuning tuning_;
  Table recent_;  // every id when not growing; the ids added since the growth began when growing
  std::vector<std::unique_ptr<const Table>> frozen_;  // oldest first, while growing
  std::size_t size_ = 0;
  std::uint64_t rounds_ = 0;
  // The builder's: the table it builds, and the flag it sets when it is done with a round.
  std::unique_ptr<Table> grown_;
  std::atomic<bool> built_{false};
  std::thread builder_;
  std::thread releaser_;  // frees the frozen tables of the growth that ended last
};

}  // namespace ewx
