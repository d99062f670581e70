// The Merkle log: RFC 6962's tree hash, proofs and their RFC 9162 verification.
//
// The tree over leaves D[0:n] is MTH(D[0:n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest
// power of two below n, MTH of one leaf H(0x00 || leaf) and of none H(""). Every left part that recursion
// produces is a perfect subtree aligned on its size, so storing the hash of each perfect aligned subtree
// (node (level, index), about 2n of them) lets any proof be read in O(log n) lookups, and right edges that
// are not perfect are folded from O(log n) of them. An append completes the leaf plus one node for each
// trailing one-bit of the old size, and the "frontier" (the perfect subtrees that make up the whole log)
// gives the root in O(log n) without reading anything.
//
// Why this design: it is the Certificate Transparency log that auditors already know how to check, and the
// verification functions below are transcriptions of RFC 9162's algorithms, so an auditor needs nothing of
// ewx's to check a proof.
#include "ledger/merkle_log.hpp"

#include <openssl/evp.h>

#include <bit>
#include <stdexcept>

#include "ledger/hex.hpp"

namespace ewx::ledger {
namespace {

// One digest context per thread, reset for each hash: creating one per call costs more than hashing a
// contract. The algorithm is fetched once too: handed EVP_sha256(), OpenSSL 3 looks the implementation up
// in its provider store on every init, which cost as much as the hashing of a batch's contracts.
Hash digest(std::initializer_list<std::span<const std::uint8_t>> parts) {
  struct Context {
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    ~Context() {
      EVP_MD_CTX_free(context);
      EVP_MD_free(sha256);
    }
  };
  thread_local Context reusable;
  EVP_MD_CTX* context = reusable.context;
  Hash out{};
  unsigned int length = 0;
  bool ok = context && reusable.sha256 && EVP_DigestInit_ex(context, reusable.sha256, nullptr) == 1;
  for (const auto& part : parts) ok = ok && EVP_DigestUpdate(context, part.data(), part.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(context, out.data(), &length) == 1;
  if (!ok || length != out.size()) throw std::runtime_error("OpenSSL SHA-256 failed");
  return out;
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

constexpr std::uint8_t kLeafPrefix[1] = {0x00};
constexpr std::uint8_t kNodePrefix[1] = {0x01};

std::uint64_t largest_power_of_two_below(std::uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

Hash sha256(std::span<const std::uint8_t> bytes) { return digest({bytes}); }
Hash sha256(std::string_view bytes) { return digest({bytes_of(bytes)}); }
Hash leaf_hash(std::string_view leaf_bytes) { return digest({kLeafPrefix, bytes_of(leaf_bytes)}); }
Hash node_hash(const Hash& left, const Hash& right) { return digest({kNodePrefix, left, right}); }
Hash empty_tree_hash() { return digest({}); }

std::string to_hex(const Hash& hash) { return ewx::to_hex(std::span<const std::uint8_t>(hash)); }

std::optional<Hash> hash_from_hex(std::string_view hex) {
  const auto bytes = ewx::from_hex(hex);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  Hash hash{};
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

std::optional<Frontier> Frontier::load(const NodeStore& store, std::uint64_t size) {
  Frontier frontier;
  frontier.size_ = size;
  std::uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if (!(size & width)) continue;
    const auto hash = store.node(static_cast<std::uint8_t>(level), start >> level);
    if (!hash) return std::nullopt;
    frontier.peaks_.emplace_back(static_cast<std::uint8_t>(level), *hash);
    start += width;
  }
  return frontier;
}

std::vector<NewNode> Frontier::append(const Hash& leaf) {
  std::vector<NewNode> completed{{0, size_, leaf}};
  std::uint8_t level = 0;
  Hash carry = leaf;
  while (!peaks_.empty() && peaks_.back().first == level) {
    carry = node_hash(peaks_.back().second, carry);
    peaks_.pop_back();
    ++level;
    completed.push_back({level, size_ >> level, carry});
  }
  peaks_.emplace_back(level, carry);
  ++size_;
  return completed;
}

Hash Frontier::root() const {
  if (peaks_.empty()) return empty_tree_hash();
  Hash root = peaks_.back().second;
  for (std::size_t k = peaks_.size() - 1; k-- > 0;) root = node_hash(peaks_[k].second, root);
  return root;
}

std::optional<Hash> subtree_hash(const NodeStore& store, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t width = end - begin;
  if (width == 0) return empty_tree_hash();
  if (std::has_single_bit(width) && begin % width == 0) {
    return store.node(static_cast<std::uint8_t>(std::countr_zero(width)), begin / width);
  }
  const std::uint64_t k = largest_power_of_two_below(width);
  const auto left = subtree_hash(store, begin, begin + k);
  const auto right = subtree_hash(store, begin + k, end);
  if (!left || !right) return std::nullopt;
  return node_hash(*left, *right);
}

namespace {

// PATH(m, D[begin:end]) of RFC 6962 section 2.1.1, leaf m counted from 0 of the whole log.
bool audit_path(const NodeStore& store, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
                std::vector<Hash>& out) {
  if (end - begin <= 1) return true;
  const std::uint64_t k = largest_power_of_two_below(end - begin);
  std::optional<Hash> sibling;
  if (m < begin + k) {
    if (!audit_path(store, m, begin, begin + k, out)) return false;
    sibling = subtree_hash(store, begin + k, end);
  } else {
    if (!audit_path(store, m, begin + k, end, out)) return false;
    sibling = subtree_hash(store, begin, begin + k);
  }
  if (!sibling) return false;
  out.push_back(*sibling);
  return true;
}

// SUBPROOF(m, D[begin:end], whole) of RFC 6962 section 2.1.2, m counted from begin.
bool subproof(const NodeStore& store, std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool whole,
              std::vector<Hash>& out) {
  if (m == end - begin) {
    if (whole) return true;
    const auto hash = subtree_hash(store, begin, end);
    if (!hash) return false;
    out.push_back(*hash);
    return true;
  }
  const std::uint64_t k = largest_power_of_two_below(end - begin);
  std::optional<Hash> other;
  if (m <= k) {
    if (!subproof(store, m, begin, begin + k, whole, out)) return false;
    other = subtree_hash(store, begin + k, end);
  } else {
    if (!subproof(store, m - k, begin + k, end, false, out)) return false;
    other = subtree_hash(store, begin, begin + k);
  }
  if (!other) return false;
  out.push_back(*other);
  return true;
}

}  // namespace

std::optional<std::vector<Hash>> inclusion_proof(const NodeStore& store, std::uint64_t leaf, std::uint64_t size) {
  if (leaf >= size) return std::nullopt;
  std::vector<Hash> proof;
  if (!audit_path(store, leaf, 0, size, proof)) return std::nullopt;
  return proof;
}

std::optional<std::vector<Hash>> consistency_proof(const NodeStore& store, std::uint64_t old_size,
                                                   std::uint64_t new_size) {
  if (old_size > new_size) return std::nullopt;
  std::vector<Hash> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  if (!subproof(store, old_size, 0, new_size, true, proof)) return std::nullopt;
  return proof;
}

bool verify_inclusion(const Hash& leaf, std::uint64_t leaf_index, std::uint64_t size, std::span<const Hash> proof,
                      const Hash& root) {
  if (leaf_index >= size) return false;
  std::uint64_t fn = leaf_index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        std::span<const Hash> proof) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (old_size == 0) return proof.empty();  // every log extends the empty one
  std::vector<Hash> path;
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  if (path.empty()) return false;
  std::uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (std::size_t k = 1; k < path.size(); ++k) {
    const Hash& c = path[k];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

}  // namespace ewx::ledger
