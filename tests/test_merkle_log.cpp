// The Merkle log against RFC 6962's definition (a naive recursive tree hash) and the Certificate
// Transparency test vectors, and every proof for small logs through the RFC 9162 verifiers.
#include <doctest/doctest.h>

#include <map>

#include "ledger/merkle_log.hpp"

using namespace ewx::ledger;

namespace {

class MapStore : public NodeStore {
 public:
  std::optional<Hash> node(std::uint8_t level, std::uint64_t index) const override {
    const auto it = nodes.find({level, index});
    if (it == nodes.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::pair<std::uint8_t, std::uint64_t>, Hash> nodes;
};

Hash naive_root(const std::vector<std::string>& leaves, std::size_t begin, std::size_t end) {
  if (end == begin) return empty_tree_hash();
  if (end - begin == 1) return leaf_hash(leaves[begin]);
  std::size_t k = 1;
  while (2 * k < end - begin) k *= 2;
  return node_hash(naive_root(leaves, begin, begin + k), naive_root(leaves, begin + k, end));
}

}  // namespace

TEST_CASE("roots match the Certificate Transparency test vectors") {
  const std::vector<std::string> leaves{"",
                                        std::string(1, '\0'),
                                        "\x10",
                                        "\x20\x21",
                                        "\x30\x31",
                                        "\x40\x41\x42\x43",
                                        "\x50\x51\x52\x53\x54\x55\x56\x57",
                                        "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  const char* expected[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  Frontier frontier;
  for (std::size_t n = 0; n < leaves.size(); ++n) {
    frontier.append(leaf_hash(leaves[n]));
    CHECK(to_hex(frontier.root()) == expected[n]);
  }
  CHECK(to_hex(empty_tree_hash()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hash_from_hex(expected[7]) == frontier.root());
  CHECK_FALSE(hash_from_hex("zz"));
}

TEST_CASE("every inclusion and consistency proof of logs up to 40 leaves verifies, and tampered ones do not") {
  MapStore store;
  Frontier frontier;
  std::vector<std::string> leaves;
  std::vector<Hash> roots{empty_tree_hash()};
  for (std::uint64_t n = 1; n <= 40; ++n) {
    leaves.push_back("contract " + std::to_string(n));
    for (const NewNode& node : frontier.append(leaf_hash(leaves.back())))
      store.nodes[{node.level, node.index}] = node.hash;
    roots.push_back(frontier.root());
    REQUIRE(frontier.root() == naive_root(leaves, 0, n));
    REQUIRE(subtree_hash(store, 0, n) == frontier.root());
    const auto reloaded = Frontier::load(store, n);
    REQUIRE(reloaded);
    CHECK(reloaded->root() == frontier.root());
  }
  for (std::uint64_t n = 1; n <= 40; ++n) {
    for (std::uint64_t m = 0; m < n; ++m) {
      const auto proof = inclusion_proof(store, m, n);
      REQUIRE(proof);
      CHECK(verify_inclusion(leaf_hash(leaves[m]), m, n, *proof, roots[n]));
      CHECK_FALSE(verify_inclusion(leaf_hash(leaves[m] + "x"), m, n, *proof, roots[n]));
      if (n > 1) CHECK_FALSE(verify_inclusion(leaf_hash(leaves[m]), (m + 1) % n, n, *proof, roots[n]));
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      const auto proof = consistency_proof(store, m, n);
      REQUIRE(proof);
      CHECK(verify_consistency(m, n, roots[m], roots[n], *proof));
      if (m > 0 && m < n) {
        Hash forged = roots[m];
        forged[0] ^= 1;
        CHECK_FALSE(verify_consistency(m, n, forged, roots[n], *proof));
        CHECK_FALSE(verify_consistency(m, n, roots[m], forged, *proof));
      }
    }
  }
  CHECK_FALSE(inclusion_proof(store, 40, 40));
  CHECK_FALSE(consistency_proof(store, 41, 40));
  store.nodes.erase({0, 2});                   // leaf 3's sibling
  CHECK_FALSE(inclusion_proof(store, 3, 40));  // a missing node is reported, not papered over
}
