// The topology: built-in default and the file format that replaces it.
//
// The default follows the East Data, West Computing plan (2022): eight national computing hubs and ten
// data-center clusters. Demand originates at a hub (mostly the eastern ones: Beijing-Tianjin-Hebei, the
// Yangtze River Delta, the Greater Bay Area); capacity sits in a cluster. Latencies are one-way estimates
// in ms for a fibre route between the hub's business centre and the cluster, in the 3-34 ms range the plan
// describes (its cross-hub target is 20 ms); the transfer charge is 2 fen per unit-hour per ms, a simple
// stand-in for a network tariff that grows with distance. Operators replace the whole table with their
// own file (`--topology FILE`); the format is in docs/formats.md and the default below is an example of it.
#include "matcher/topology.hpp"

#include <sstream>

#include "matcher/line_scanner.hpp"

namespace ewx {
namespace {

constexpr std::string_view kDefaultTopology = R"(ewx-topology 1
# East Data, West Computing: 8 national hubs, 10 clusters.
hub bth Beijing-Tianjin-Hebei
hub yrd Yangtze River Delta
hub gba Guangdong-Hong Kong-Macao Greater Bay Area
hub cc Chengdu-Chongqing
hub imn Inner Mongolia
hub gz Guizhou
hub gs Gansu
hub nx Ningxia
cluster zhangjiakou bth Zhangjiakou
cluster yrd-eco yrd Yangtze River Delta Eco-Green Integrated Development Demonstration Zone
cluster wuhu yrd Wuhu
cluster shaoguan gba Shaoguan
cluster tianfu cc Tianfu
cluster chongqing cc Chongqing
cluster horinger imn Horinger
cluster guian gz Gui'an
cluster qingyang gs Qingyang
cluster zhongwei nx Zhongwei
# link <hub> <cluster> <latency ms> <transfer charge, fen per unit-hour>
)";

// Latency in ms from each hub (rows, in the order above) to each cluster (columns, in the order above).
constexpr int kLatency[8][10] = {
    // zjk yrd-eco wuhu shaoguan tianfu chongqing horinger guian qingyang zhongwei
    {4, 14, 15, 28, 30, 28, 9, 32, 18, 20},   // bth
    {16, 3, 5, 17, 27, 24, 22, 24, 25, 28},   // yrd
    {30, 17, 16, 4, 24, 20, 34, 14, 30, 33},  // gba
    {29, 26, 24, 22, 3, 4, 27, 10, 15, 19},   // cc
    {9, 22, 22, 33, 26, 26, 3, 32, 14, 12},   // imn
    {31, 24, 22, 14, 11, 9, 32, 3, 22, 25},   // gz
    {18, 25, 24, 30, 15, 16, 14, 22, 3, 7},   // gs
    {20, 28, 27, 33, 19, 20, 12, 25, 7, 3},   // nx
};
constexpr Fen kTransferFenPerMs = 2;

std::string build_default_text() {
  std::string text(kDefaultTopology);
  const char* hubs[] = {"bth", "yrd", "gba", "cc", "imn", "gz", "gs", "nx"};
  const char* clusters[] = {"zhangjiakou", "yrd-eco",  "wuhu",  "shaoguan", "tianfu",
                            "chongqing",   "horinger", "guian", "qingyang", "zhongwei"};
  for (int h = 0; h < 8; ++h) {
    for (int c = 0; c < 10; ++c) {
      text += "link " + std::string(hubs[h]) + " " + clusters[c] + " " + std::to_string(kLatency[h][c]) + " " +
              std::to_string(kLatency[h][c] * kTransferFenPerMs) + "\n";
    }
  }
  return text;
}

}  // namespace

void Topology::set_link(HubIndex hub, ClusterIndex cluster, Link link) {
  links_[static_cast<std::size_t>(hub) * clusters.size() + cluster] = link;
}

std::optional<HubIndex> Topology::find_hub(std::string_view key) const {
  for (std::size_t h = 0; h < hubs.size(); ++h) {
    if (hubs[h].key == key) return static_cast<HubIndex>(h);
  }
  return std::nullopt;
}

std::optional<ClusterIndex> Topology::find_cluster(std::string_view key) const {
  for (std::size_t c = 0; c < clusters.size(); ++c) {
    if (clusters[c].key == key) return static_cast<ClusterIndex>(c);
  }
  return std::nullopt;
}

std::string_view default_topology_text() {
  static const std::string text = build_default_text();
  return text;
}

const Topology& default_topology() {
  static const Topology topology = parse_topology(default_topology_text(), "built-in topology");
  return topology;
}

Topology parse_topology(std::string_view text, const std::string& name) {
  Topology topology;
  LineReader reader(text);
  std::string_view line;
  bool have_header = false;
  bool links_started = false;
  while (reader.next(line)) {
    LineScanner scan(line, name, reader.number());
    const std::string_view tag = scan.word();
    if (tag.empty() || tag.front() == '#') continue;
    if (!have_header) {
      if (tag != "ewx-topology") scan.fail("expected the header 'ewx-topology 1', found " + quoted(tag));
      if (scan.integer("format version") != 1) scan.fail("unsupported topology format version (this ewx reads 1)");
      scan.finish();
      have_header = true;
      continue;
    }
    if (tag == "hub" || tag == "cluster") {
      if (links_started) scan.fail(quoted(tag) + " after the first 'link' line; declare all nodes first");
      const std::string key(scan.required_word("key"));
      if (topology.find_hub(key) || topology.find_cluster(key)) scan.fail("key '" + key + "' is used twice");
      if (tag == "hub") {
        if (topology.hubs.size() == 65535) scan.fail("too many hubs");
        topology.hubs.push_back({key, std::string(scan.rest())});
      } else {
        const std::string_view hub_key = scan.required_word("hub of the cluster");
        const auto hub = topology.find_hub(hub_key);
        if (!hub) scan.fail("cluster '" + key + "' names unknown hub " + quoted(hub_key));
        if (topology.clusters.size() == 65535) scan.fail("too many clusters");
        topology.clusters.push_back({key, std::string(scan.rest()), *hub});
      }
    } else if (tag == "link") {
      if (!links_started) topology.reset_links();
      links_started = true;
      const std::string_view hub_key = scan.required_word("hub");
      const std::string_view cluster_key = scan.required_word("cluster");
      const auto hub = topology.find_hub(hub_key);
      if (!hub) scan.fail("unknown hub " + quoted(hub_key));
      const auto cluster = topology.find_cluster(cluster_key);
      if (!cluster) scan.fail("unknown cluster " + quoted(cluster_key));
      Link link;
      link.latency_ms = static_cast<std::int32_t>(scan.integer_in("latency in ms", 0, 100'000));
      link.transfer_charge = scan.integer_in("transfer charge in fen", 0, kMaxPrice);
      scan.finish();
      if (topology.link(*hub, *cluster)) {
        scan.fail("link " + std::string(hub_key) + " -> " + std::string(cluster_key) + " is given twice");
      }
      topology.set_link(*hub, *cluster, link);
    } else {
      scan.fail("unknown line type " + quoted(tag) + " (expected hub, cluster or link)");
    }
  }
  if (!have_header) throw InputError(name, reader.number(), "empty topology: no 'ewx-topology 1' header");
  if (topology.hubs.empty() || topology.clusters.empty()) {
    throw InputError(name, reader.number(), "a topology needs at least one hub and one cluster");
  }
  if (!links_started) topology.reset_links();
  return topology;
}

std::string format_topology(const Topology& topology) {
  std::ostringstream out;
  out << "ewx-topology 1\n";
  for (const Hub& hub : topology.hubs) out << "hub " << hub.key << ' ' << hub.name << '\n';
  for (const Cluster& cluster : topology.clusters) {
    out << "cluster " << cluster.key << ' ' << topology.hubs[cluster.hub].key << ' ' << cluster.name << '\n';
  }
  for (HubIndex h = 0; h < topology.hubs.size(); ++h) {
    for (ClusterIndex c = 0; c < topology.clusters.size(); ++c) {
      if (const auto& link = topology.link(h, c)) {
        out << "link " << topology.hubs[h].key << ' ' << topology.clusters[c].key << ' ' << link->latency_ms << ' '
            << link->transfer_charge << '\n';
      }
    }
  }
  return out.str();
}

}  // namespace ewx
