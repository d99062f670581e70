// The table of client order ids (exchange/client_order_ids.hpp), checked against a plain map through
// growths beside the caller's thread: every id keeps its value, however many rounds its growth takes and
// whichever table it is in when looked up; erased ids are gone and can be taken again.
#include <doctest/doctest.h>

#include <random>
#include <unordered_map>

#include "exchange/client_order_ids.hpp"

using namespace ewx;

namespace {

using Key = ClientOrderIds::Key;

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    return std::hash<std::uint64_t>()(k.client_order_id) ^ (k.account * 2 + k.offer) * 0x9e3779b97f4a7c15ull;
  }
};

// Traders numbering their orders 1, 2, 3, ... (the layout the hash is made for), and now and then a stray id.
Key next_key(std::mt19937_64& random, std::vector<std::uint64_t>& sequence) {
  const std::size_t trader = random() % sequence.size();
  const bool stray = random() % 16 == 0;
  return {trader / 2 + 1, trader % 2 == 1, stray ? random() : ++sequence[trader]};
}

}  // namespace

TEST_CASE("client order ids grown beside the caller keep every id, its value and every erase") {
  // Small enough to grow beside from a few thousand ids, and to hand the builder a second round as soon as
  // a few dozen ids came in while it copied.
  ClientOrderIds ids(ClientOrderIds::Tuning{.grow_beside_from = 1 << 12, .move_inline_up_to = 32});
  std::unordered_map<Key, ClientOrderIds::Known, KeyHash> expected;
  std::vector<Key> taken;
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> sequence(10, 0);
  std::uint64_t next_id = 1, lookups_while_growing = 0;
  bool grew = false;

  for (int step = 0; step < 400'000; ++step) {
    const auto roll = random() % 100;
    if (roll < 70 || taken.empty()) {  // a new id (or a stray that happens to be known)
      const Key key = next_key(random, sequence);
      const auto found = ids.find_or_add(key);
      const auto want = expected.find(key);
      REQUIRE((found.known != nullptr) == (want != expected.end()));
      if (found.known) {
        CHECK(found.known->id == want->second.id);
        continue;
      }
      REQUIRE(found.added);
      CHECK(found.added->id == 0);
      *found.added = {next_id, next_id * 3};
      expected[key] = *found.added;
      taken.push_back(key);
      ++next_id;
    } else if (roll < 97) {  // a resend of an id taken earlier, or of one erased since
      const Key key = taken[random() % taken.size()];
      const auto found = ids.find_or_add(key);
      const auto want = expected.find(key);
      lookups_while_growing += ids.growing();
      if (want == expected.end()) {  // erased: taken afresh
        REQUIRE(found.added);
        *found.added = {next_id, next_id * 3};
        expected[key] = *found.added;
        ++next_id;
      } else {
        REQUIRE(found.known);
        CHECK(found.known->id == want->second.id);
        CHECK(found.known->tag == want->second.tag);
      }
    } else {  // a refused submission forgotten
      const Key key = taken[random() % taken.size()];
      ids.erase(key);
      expected.erase(key);
    }
    grew |= ids.growing();
    REQUIRE(ids.size() == expected.size());
  }
  CHECK(grew);
  CHECK(ids.rounds() >= 2);            // it grew beside at least twice (or once in two rounds)
  CHECK(lookups_while_growing > 100);  // and old ids were looked up while frozen

  ids.reserve(expected.size() * 2);  // finishes any growth under way
  CHECK_FALSE(ids.growing());
  CHECK(ids.size() == expected.size());
  for (const auto& [key, known] : expected) {
    const auto found = ids.find_or_add(key);
    REQUIRE(found.known);
    CHECK(found.known->id == known.id);
  }
  CHECK(ids.size() == expected.size());
}

TEST_CASE("client order ids: an id erased while frozen stays erased through the growth, and a new one takes it") {
  ClientOrderIds ids(ClientOrderIds::Tuning{.grow_beside_from = 1 << 10, .move_inline_up_to = 1 << 20});
  std::uint64_t id = 0;
  // The id first, then the entry: in `*find_or_add({.., ++id}).added = {id, 0}` GCC 12 read `id` after the
  // increment at -O2 and before it with the sanitizers (C++17 sequences the right side first), so the
  // sanitized build gave key k the id k - 1 and the checks below failed.
  while (!ids.growing()) {
    ++id;
    *ids.find_or_add({1, false, id}).added = {id, 0};
  }
  // Ids 1..id-1 are frozen now (the last one went to the recent table); the builder may be copying them.
  ids.erase({1, false, 5});
  ids.erase({1, false, 6});
  CHECK(ids.find_or_add({1, false, 7}).known->id == 7);
  auto again = ids.find_or_add({1, false, 5});
  REQUIRE(again.added);
  *again.added = {1'000'005, 0};
  ids.reserve(0);
  CHECK_FALSE(ids.growing());
  CHECK(ids.size() == id - 1);
  CHECK(ids.find_or_add({1, false, 5}).known->id == 1'000'005);
  CHECK(ids.find_or_add({1, false, 7}).known->id == 7);
  const auto gone = ids.find_or_add({1, false, 6});
  CHECK(gone.added);
  CHECK(gone.known == nullptr);
}
