// The two smallest keys of a range, kept in segment trees: how the scaled auction finds the two cheapest sinks
// (scaled_auction.cpp) and the ladder auction an order's two cheapest offers up a ladder (ladder_auction.cpp).
// Short segments can be kept as plain arrays instead and scanned: a ladder of a hundred offers is a dozen
// cache lines read in order, where each write to its tree walked seven levels at a line apiece.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "matcher/transportation.hpp"

namespace ewx::detail {

// The key of an empty place: far above any price the auctions reach (their range checks), yet safe to
// subtract from a value.
inline constexpr Potential kNoKey = Potential{1} << 62;
inline constexpr std::uint32_t kNoId = std::numeric_limits<std::uint32_t>::max();

// The two smallest keys of a range and whose they are; ties go to the smaller id, so results are
// deterministic and merging is commutative.
struct TwoSmallest {
  Potential key[2] = {kNoKey, kNoKey};
  std::uint32_t id[2] = {kNoId, kNoId};
};

inline bool before(Potential key_a, std::uint32_t id_a, Potential key_b, std::uint32_t id_b) {
  return key_a < key_b || (key_a == key_b && id_a < id_b);
}

inline TwoSmallest merge(const TwoSmallest& a, const TwoSmallest& b) {
  TwoSmallest out;
  const TwoSmallest& first = before(a.key[0], a.id[0], b.key[0], b.id[0]) ? a : b;
  const TwoSmallest& other = &first == &a ? b : a;
  out.key[0] = first.key[0];
  out.id[0] = first.id[0];
  const bool runner_up_is_other = before(other.key[0], other.id[0], first.key[1], first.id[1]);
  out.key[1] = runner_up_is_other ? other.key[0] : first.key[1];
  out.id[1] = runner_up_is_other ? other.id[0] : first.id[1];
  return out;
}

// Bottom-up segment trees over contiguous segments of leaves, all in one array: segment s with leaves
// [begin[s], begin[s + 1]) keeps its tree in nodes [2 begin[s], 2 begin[s + 1]), node 1 of it at the root.
// A leaf's id is its global index.
class SegmentForest {
 public:
  // Segments shorter than `scanned_below` keep only their leaves: a set writes one leaf and a query scans
  // the suffix, a few cache lines where a tree walk touches one line per level (the ladder auction's).
  explicit SegmentForest(std::vector<std::uint32_t> begin, std::uint32_t scanned_below = 0)
      : begin_(std::move(begin)),
        scanned_below_(scanned_below),
        segment_of_(begin_.back()),
        version_(begin_.size() - 1, 0) {
    bool any_scanned = false, any_tree = false;
    for (std::uint32_t s = 0; s + 1 < begin_.size(); ++s) {
      std::fill(segment_of_.begin() + begin_[s], segment_of_.begin() + begin_[s + 1], s);
      (begin_[s + 1] - begin_[s] < scanned_below_ ? any_scanned : any_tree) = true;
    }
    // Each kind of storage only where some segment uses it: the trees are indexed by leaf, so all or none.
    if (any_scanned) key_.assign(begin_.back(), kNoKey);
    if (any_tree) node_.resize(2 * std::size_t{begin_.back()});
  }

  void set(std::uint32_t leaf, Potential key) {
    const std::uint32_t s = segment_of_[leaf];
    const std::size_t base = 2 * std::size_t{begin_[s]};
    const std::size_t length = begin_[s + 1] - begin_[s];
    ++version_[s];
    if (length < scanned_below_) {
      key_[leaf] = key;
      return;
    }
    std::size_t at = length + (leaf - begin_[s]);
    node_[base + at] = TwoSmallest{{key, kNoKey}, {leaf, kNoId}};
    for (at /= 2; at >= 1; at /= 2) node_[base + at] = merge(node_[base + 2 * at], node_[base + 2 * at + 1]);
  }

  // How many times segment `s` has been written: a query's answer stands while this stays the same.
  std::uint64_t version(std::uint32_t s) const { return version_[s]; }

  // The two smallest leaves of segment `s`: its root, since merging is commutative.
  TwoSmallest all(std::uint32_t s) const {
    if (begin_[s + 1] - begin_[s] < scanned_below_) return suffix(s, begin_[s]);
    return begin_[s + 1] == begin_[s] ? TwoSmallest{} : node_[2 * std::size_t{begin_[s]} + 1];
  }

  // The two smallest of the leaves from `leaf` to the end of its segment `s`.
  TwoSmallest suffix(std::uint32_t s, std::uint32_t leaf) const {
    const std::size_t base = 2 * std::size_t{begin_[s]};
    const std::size_t length = begin_[s + 1] - begin_[s];
    TwoSmallest out;
    if (length < scanned_below_) {
      for (std::uint32_t at = leaf; at < begin_[s + 1]; ++at) {
        const Potential key = key_[at];
        if (key >= out.key[1]) continue;  // ties go to the earlier leaf, the smaller id
        if (key < out.key[0]) {
          out.key[1] = out.key[0], out.id[1] = out.id[0];
          out.key[0] = key, out.id[0] = at;
        } else {
          out.key[1] = key, out.id[1] = at;
        }
      }
      return out;
    }
    for (std::size_t l = length + (leaf - begin_[s]), r = 2 * length; l < r; l /= 2, r /= 2) {
      if (l & 1) out = merge(out, node_[base + l++]);
      if (r & 1) out = merge(out, node_[base + --r]);
    }
    return out;
  }

 private:
  std::vector<std::uint32_t> begin_;
  std::uint32_t scanned_below_;
  std::vector<std::uint32_t> segment_of_;
  std::vector<Potential> key_;  // the leaves of scanned segments
  std::vector<TwoSmallest> node_;
  std::vector<std::uint64_t> version_;  // per segment
};

}  // namespace ewx::detail
