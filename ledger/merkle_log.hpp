// The append-only Merkle log of contracts, in the manner of Certificate Transparency (RFC 6962, RFC 9162).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ewx::ledger {

using Hash = std::array<std::uint8_t, 32>;  // SHA-256

Hash sha256(std::span<const std::uint8_t> bytes);
Hash sha256(std::string_view bytes);
std::string to_hex(const Hash& hash);
std::optional<Hash> hash_from_hex(std::string_view hex);

// RFC 6962 section 2.1: leaves and interior nodes are hashed with distinct one-byte prefixes, so that no
// leaf can be passed off as an interior node.
Hash leaf_hash(std::string_view leaf_bytes);
Hash node_hash(const Hash& left, const Hash& right);
Hash empty_tree_hash();

// Where a log keeps the hashes of its perfect subtrees: node (level, index) covers leaves
// [index * 2^level, (index + 1) * 2^level). Level 0 holds the leaf hashes.
class NodeStore {
 public:
  virtual ~NodeStore() = default;
  virtual std::optional<Hash> node(std::uint8_t level, std::uint64_t index) const = 0;
};

// Appending leaves to a log: the nodes that each append completes, to be stored by the caller in the same
// atomic write as the leaf itself.
struct NewNode {
  std::uint8_t level;
  std::uint64_t index;
  Hash hash;
};

// The right edge of a log of `size` leaves: the roots of the perfect subtrees that make it up, largest
// first. Enough to append and to compute the root without reading anything else.
class Frontier {
 public:
  Frontier() = default;
  // Rebuilds the frontier of a log of `size` leaves from stored nodes; nothing if one is missing.
  static std::optional<Frontier> load(const NodeStore& store, std::uint64_t size);

  std::uint64_t size() const { return size_; }
  // Appends one leaf; returns every node completed by it (the leaf itself first), for the caller to store.
  std::vector<NewNode> append(const Hash& leaf);
  Hash root() const;

 private:
  std::uint64_t size_ = 0;
  std::vector<std::pair<std::uint8_t, Hash>> peaks_;  // (level, hash), largest subtree first
};

// MTH(D[begin:end]) from stored perfect-subtree nodes (O(log n) lookups). Nothing if a node is missing.
std::optional<Hash> subtree_hash(const NodeStore& store, std::uint64_t begin, std::uint64_t end);

// Audit paths (RFC 6962 section 2.1.1) and consistency proofs (section 2.1.2) from stored nodes.
std::optional<std::vector<Hash>> inclusion_proof(const NodeStore& store, std::uint64_t leaf, std::uint64_t size);
std::optional<std::vector<Hash>> consistency_proof(const NodeStore& store, std::uint64_t old_size,
                                                   std::uint64_t new_size);

// The verification algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2: what an auditor runs with nothing
// but a leaf, the proof and the heads it trusts.
bool verify_inclusion(const Hash& leaf, std::uint64_t leaf_index, std::uint64_t size, std::span<const Hash> proof,
                      const Hash& root);
bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        std::span<const Hash> proof);

}  // namespace ewx::ledger
