// The batch file format.
//
//   ewx-batch 1
//   batch <number>
//   order <id> <hub> <class> <units> <bid> <max-latency-ms> <min-green-%> <begin-hour> <end-hour> [<participant>]
//   offer <id> <cluster> <class> <units> <ask> <green-%> <begin-hour> <end-hour> [<participant>]
//
// The participant (the enterprise or provider account) is optional and 0 when absent.
// Prices in fen per unit-hour, hours since the Unix epoch, windows half-open. Lines starting with '#' are
// comments. Hubs and clusters are the keys of the topology in force; resource classes are free-form names
// (a class matches only itself). Text, not binary, because batch files are for people: to reproduce a
// clearing, attach it to a report, or diff two of them.
#include "matcher/batch_file.hpp"

#include <fmt/format.h>

#include <iterator>
#include <ostream>
#include <unordered_map>
#include <unordered_set>

#include "matcher/line_scanner.hpp"
#include "matcher/order_rules.hpp"

namespace ewx {
namespace {

constexpr std::string_view kHeader = "ewx-batch";

std::string_view first_word_after_comments(std::string_view text) {
  LineReader reader(text);
  std::string_view line;
  static const std::string name = "batch";
  while (reader.next(line)) {
    LineScanner scan(line, name, reader.number());
    const std::string_view tag = scan.word();
    if (!tag.empty() && tag.front() != '#') return tag;
  }
  return {};
}

}  // namespace

bool looks_like_batch(std::string_view text) { return first_word_after_comments(text) == kHeader; }

Batch parse_batch(std::string_view text, const std::string& name, const Topology& topology) {
  Batch batch;
  std::unordered_map<std::string, ResourceClassIndex> class_index;
  std::unordered_set<OrderId> order_ids;
  std::unordered_set<OfferId> offer_ids;
  const auto resource_class = [&](LineScanner& scan) {
    const std::string_view key = scan.required_word("resource class");
    if (const auto problem = resource_class_problem(key)) scan.fail(*problem);
    const auto [it, added] =
        class_index.try_emplace(std::string(key), static_cast<ResourceClassIndex>(batch.resource_classes.size()));
    if (added) batch.resource_classes.emplace_back(key);
    return it->second;
  };
  // 32-bit fields: read wide, so that the range check sees the value the file holds, not a wrapped one.
  const auto narrow = [](LineScanner& scan, const char* what) {
    return static_cast<std::int32_t>(scan.integer_in(what, INT32_MIN, INT32_MAX));
  };
  const auto optional_participant = [](LineScanner& scan) -> ParticipantId {
    LineScanner peek = scan;
    if (peek.word().empty()) return 0;
    return static_cast<ParticipantId>(scan.integer_in("participant", 0, INT64_MAX));
  };

  LineReader reader(text);
  std::string_view line;
  bool have_header = false;
  while (reader.next(line)) {
    LineScanner scan(line, name, reader.number());
    const std::string_view tag = scan.word();
    if (tag.empty() || tag.front() == '#') continue;
    if (!have_header) {
      if (tag != kHeader) scan.fail("expected the header 'ewx-batch 1', found " + quoted(tag));
      if (scan.integer("format version") != 1) scan.fail("unsupported batch format version (this ewx reads 1)");
      scan.finish();
      have_header = true;
    } else if (tag == "batch") {
      batch.number = static_cast<std::uint64_t>(scan.integer_in("batch number", 0, INT64_MAX));
      scan.finish();
    } else if (tag == "order") {
      BuyOrder order;
      order.id = static_cast<OrderId>(scan.integer_in("order id", 0, INT64_MAX));
      const std::string_view hub = scan.required_word("hub");
      const auto hub_index = topology.find_hub(hub);
      if (!hub_index) scan.fail("unknown hub " + quoted(hub));
      order.hub = *hub_index;
      order.resource_class = resource_class(scan);
      order.units = scan.integer("units");
      order.bid = scan.integer("bid in fen");
      order.max_latency_ms = narrow(scan, "maximum latency in ms");
      order.min_green_percent = narrow(scan, "minimum green share in %");
      order.window_begin = scan.integer("window begin hour");
      order.window_end = scan.integer("window end hour");
      order.participant = optional_participant(scan);
      scan.finish();
      if (const auto problem = order_problem(order)) scan.fail(*problem);
      if (!order_ids.insert(order.id).second) scan.fail("order id " + std::to_string(order.id) + " appears twice");
      batch.orders.push_back(order);
    } else if (tag == "offer") {
      SellOffer offer;
      offer.id = static_cast<OfferId>(scan.integer_in("offer id", 0, INT64_MAX));
      const std::string_view cluster = scan.required_word("cluster");
      const auto cluster_index = topology.find_cluster(cluster);
      if (!cluster_index) scan.fail("unknown cluster " + quoted(cluster));
      offer.cluster = *cluster_index;
      offer.resource_class = resource_class(scan);
      offer.units = scan.integer("units");
      offer.ask = scan.integer("ask in fen");
      offer.green_percent = narrow(scan, "green share in %");
      offer.window_begin = scan.integer("window begin hour");
      offer.window_end = scan.integer("window end hour");
      offer.participant = optional_participant(scan);
      scan.finish();
      if (const auto problem = offer_problem(offer)) scan.fail(*problem);
      if (!offer_ids.insert(offer.id).second) scan.fail("offer id " + std::to_string(offer.id) + " appears twice");
      batch.offers.push_back(offer);
    } else {
      scan.fail("unknown line type " + quoted(tag) + " (expected batch, order or offer)");
    }
  }
  if (!have_header) throw InputError(name, reader.number(), "empty batch file: no 'ewx-batch 1' header");
  return batch;
}

// Through fmt rather than the stream: the ledger stores every cleared batch as this text (its inputs), and
// a 100k-order batch formatted 4x faster this way.
std::string format_batch(const Batch& batch, const Topology& topology) {
  fmt::memory_buffer text;
  text.reserve(64 * (batch.orders.size() + batch.offers.size()) + 256);
  const auto out = std::back_inserter(text);
  fmt::format_to(out, "{} 1\nbatch {}\n", kHeader, batch.number);
  fmt::format_to(out, "# order <id> <hub> <class> <units> <bid> <max-latency-ms> <min-green-%> <begin-hour> "
                      "<end-hour> [<participant>]\n");
  for (const BuyOrder& o : batch.orders) {
    fmt::format_to(out, "order {} {} {} {} {} {} {} {} {}", o.id, topology.hubs[o.hub].key,
                   batch.resource_classes[o.resource_class], o.units, o.bid, o.max_latency_ms, o.min_green_percent,
                   o.window_begin, o.window_end);
    if (o.participant != 0) fmt::format_to(out, " {}", o.participant);
    text.push_back('\n');
  }
  fmt::format_to(out, "# offer <id> <cluster> <class> <units> <ask> <green-%> <begin-hour> <end-hour> "
                      "[<participant>]\n");
  for (const SellOffer& s : batch.offers) {
    fmt::format_to(out, "offer {} {} {} {} {} {} {} {}", s.id, topology.clusters[s.cluster].key,
                   batch.resource_classes[s.resource_class], s.units, s.ask, s.green_percent, s.window_begin,
                   s.window_end);
    if (s.participant != 0) fmt::format_to(out, " {}", s.participant);
    text.push_back('\n');
  }
  return fmt::to_string(text);
}

void write_batch(std::ostream& out, const Batch& batch, const Topology& topology) {
  const std::string text = format_batch(batch, topology);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace ewx
