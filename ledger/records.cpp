// Canonical encodings of the ledger's records.
//
// Grammar (all integers little-endian, fixed width; str = u32 length then bytes):
//
//   journal-record = journal-entry                       one entry
//                  | u8 0, var count, compact-entry*     a group written together (count >= 2); its entries
//                                                        take consecutive journal positions
//   compact-entry  = a journal-entry with every integer after the kind a varint (var: unsigned LEB128 of
//                    the value, signed ones zigzag-mapped first, in as few bytes as the value needs) and
//                    str = var length then bytes. A group commit is the journal's bulk, and the fixed widths
//                    were most of it: an order's entry is about 35 bytes against 87.
//   journal-entry  = u8 kind, then by kind:
//                      order:  u64 participant, str class, u64 id, u16 hub, i64 units, i64 bid,
//                              i32 max-latency-ms, i32 min-green-%, i64 window-begin, i64 window-end,
//                              u64 client-order-id
//                      offer:  u64 participant, str class, u64 id, u16 cluster, i64 units, i64 ask,
//                              i32 green-%, i64 window-begin, i64 window-end, u64 client-order-id
//                      cancel: u64 id, u64 participant (who cancelled: the owner, or 0 for the exchange)
//                      fills:  u64 batch, u64 first-contract, u64 count
//   contract       = u8 version(1), u64 id, u64 batch, u64 order, u64 offer, u64 buyer, u64 seller, i64 units,
//                    i64 price, i64 transfer-charge, u16 hub, u16 cluster, str class, i64 window-begin,
//                    i64 window-end
//   batch-record   = signed-part, str signature
//   signed-part    = str "ewx-batch-record-v1", u64 number, i64 cleared-at, u64 first-contract,
//                    u64 contract-count, u64 log-size, 32 log-root, 32 previous-record, 32 inputs,
//                    str total-surplus, u32 price-count, (u64 offer, i64 price)*
//   batch-inputs   = str topology, str batch
//
// A decoder accepts exactly one encoding: truncation, trailing bytes or an unknown kind is a failure, so a
// flipped or missing byte cannot decode into some other valid record unnoticed.
#include "ledger/records.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ewx::ledger {
namespace {

class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t expected) { out_.reserve(expected); }
  template <typename T>
  Writer& integer(T value) {
    if constexpr (std::endian::native == std::endian::little) {
      out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
    } else {
      for (std::size_t k = 0; k < sizeof(T); ++k)
        out_.push_back(static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * k)) & 0xff));
    }
    return *this;
  }
  template <typename T>
  Writer& varint(T value) {
    std::uint64_t v = static_cast<std::uint64_t>(value);
    if constexpr (std::is_signed_v<T>) v = (v << 1) ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(value) >> 63);
    for (; v >= 0x80; v >>= 7) out_.push_back(static_cast<char>(v | 0x80));
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  Writer& text(std::string_view s) {
    integer(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
    return *this;
  }
  Writer& var_text(std::string_view s) {
    varint(s.size());
    out_.append(s);
    return *this;
  }
  Writer& hash(const Hash& h) {
    out_.append(reinterpret_cast<const char*>(h.data()), h.size());
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool integer(T& value) {
    if (in_.size() < sizeof(T)) return false;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < sizeof(T); ++k)
      v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in_[k])) << (8 * k);
    value = static_cast<T>(v);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  // The one shortest encoding only: a varint that runs past 64 bits, ends in a zero byte after the first, or
  // holds a value beyond T is refused.
  template <typename T>
  bool varint(T& value) {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (in_.empty() || shift > 63) return false;
      const auto byte = static_cast<std::uint8_t>(in_[0]);
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) return false;
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (byte & 0x80) continue;
      if (byte == 0 && shift > 0) return false;
      break;
    }
    if constexpr (std::is_signed_v<T>) {
      const auto decoded = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
      if (decoded < std::numeric_limits<T>::min() || decoded > std::numeric_limits<T>::max()) return false;
      value = static_cast<T>(decoded);
    } else {
      if (v > std::numeric_limits<T>::max()) return false;
      value = static_cast<T>(v);
    }
    return true;
  }
  bool text(std::string& s) {
    std::uint32_t length = 0;
    return integer(length) && take(s, length);
  }
  bool var_text(std::string& s) {
    std::uint32_t length = 0;
    return varint(length) && take(s, length);
  }
  bool hash(Hash& h) {
    if (in_.size() < h.size()) return false;
    std::memcpy(h.data(), in_.data(), h.size());
    in_.remove_prefix(h.size());
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  bool take(std::string& s, std::uint32_t length) {
    if (in_.size() < length) return false;
    s.assign(in_.substr(0, length));
    in_.remove_prefix(length);
    return true;
  }
  std::string_view in_;
};

constexpr std::string_view kRecordTag = "ewx-batch-record-v1";
constexpr std::uint8_t kContractVersion = 1;

}  // namespace

std::vector<JournalEntry> submissions_of(const Batch& batch) {
  std::vector<JournalEntry> entries;
  entries.reserve(batch.orders.size() + batch.offers.size());
  for (const BuyOrder& o : batch.orders) {
    JournalEntry& e = entries.emplace_back();
    e.kind = JournalEntry::Kind::order;
    e.participant = o.participant;
    e.resource_class = batch.resource_classes[o.resource_class];
    e.order = o;
  }
  for (const SellOffer& s : batch.offers) {
    JournalEntry& e = entries.emplace_back();
    e.kind = JournalEntry::Kind::offer;
    e.participant = s.participant;
    e.resource_class = batch.resource_classes[s.resource_class];
    e.offer = s;
  }
  return entries;
}

namespace {
// Sizes the buffer for an order's entry and its class name at once, instead of growing it field by field.
constexpr std::size_t kEntryBytes = 96;

// The fields of an entry after its kind, in order: the one list that encode and decode, fixed-width and
// compact, all go through. `io.field(x)` writes or reads one integer, `io.text(s)` one string; each says
// whether it could.
template <typename Entry, typename IO>
bool entry_fields(Entry& e, IO& io) {
  switch (e.kind) {
    case JournalEntry::Kind::order:
      return io.field(e.participant) && io.text(e.resource_class) && io.field(e.order.id) && io.field(e.order.hub) &&
             io.field(e.order.units) && io.field(e.order.bid) && io.field(e.order.max_latency_ms) &&
             io.field(e.order.min_green_percent) && io.field(e.order.window_begin) &&
             io.field(e.order.window_end) && io.field(e.client_order_id);
    case JournalEntry::Kind::offer:
      return io.field(e.participant) && io.text(e.resource_class) && io.field(e.offer.id) &&
             io.field(e.offer.cluster) && io.field(e.offer.units) && io.field(e.offer.ask) &&
             io.field(e.offer.green_percent) && io.field(e.offer.window_begin) && io.field(e.offer.window_end) &&
             io.field(e.client_order_id);
    case JournalEntry::Kind::cancel_order:
    case JournalEntry::Kind::cancel_offer:
      return io.field(e.id) && io.field(e.participant);
    case JournalEntry::Kind::batch_fills:
      return io.field(e.batch) && io.field(e.first_contract) && io.field(e.count);
  }
  return false;
}

template <bool kCompact>
struct EntryWriter {
  Writer& w;
  template <typename T>
  bool field(const T& value) {
    if constexpr (kCompact) w.varint(value); else w.integer(value);
    return true;
  }
  bool text(const std::string& s) {
    if constexpr (kCompact) w.var_text(s); else w.text(s);
    return true;
  }
};

template <bool kCompact>
struct EntryReader {
  Reader& r;
  template <typename T>
  bool field(T& value) {
    if constexpr (kCompact) return r.varint(value); else return r.integer(value);
  }
  bool text(std::string& s) {
    if constexpr (kCompact) return r.var_text(s); else return r.text(s);
  }
};

template <bool kCompact>
void write_entry(Writer& w, const JournalEntry& e) {
  w.integer(static_cast<std::uint8_t>(e.kind));
  EntryWriter<kCompact> io{w};
  entry_fields(e, io);
}

// Reads one entry; `r` is left after it.
template <bool kCompact>
std::optional<JournalEntry> read_entry(Reader& r) {
  JournalEntry e;
  std::uint8_t kind = 0;
  if (!r.integer(kind) || kind < 1 || kind > 5) return std::nullopt;
  e.kind = static_cast<JournalEntry::Kind>(kind);
  EntryReader<kCompact> io{r};
  if (!entry_fields(e, io)) return std::nullopt;
  if (e.kind == JournalEntry::Kind::order) e.id = e.order.id;
  if (e.kind == JournalEntry::Kind::offer) e.id = e.offer.id;
  return e;
}
}  // namespace

std::string encode(const JournalEntry& e) {
  Writer w(kEntryBytes);
  write_entry<false>(w, e);
  return w.take();
}

std::optional<JournalEntry> decode_journal_entry(std::string_view bytes) {
  Reader r(bytes);
  auto e = read_entry<false>(r);
  if (!e || !r.done()) return std::nullopt;
  return e;
}

std::string encode_journal_group(std::span<const JournalEntry* const> entries) {
  if (entries.size() == 1) return encode(*entries[0]);
  Writer w(11 + entries.size() * kEntryBytes / 2);
  w.integer(std::uint8_t{0}).varint(entries.size());
  for (const JournalEntry* e : entries) write_entry<true>(w, *e);
  return w.take();
}

bool decode_journal_record(std::string_view bytes, std::vector<JournalEntry>& entries) {
  entries.clear();
  if (bytes.empty() || bytes[0] != 0) {
    auto entry = decode_journal_entry(bytes);
    if (entry) entries.push_back(std::move(*entry));
    return entry.has_value();
  }
  Reader r(bytes.substr(1));
  std::uint32_t count = 0;
  if (!r.varint(count) || count < 2) return false;
  entries.reserve(std::min<std::uint32_t>(count, static_cast<std::uint32_t>(bytes.size())));
  for (std::uint32_t k = 0; k < count; ++k) {
    auto entry = read_entry<true>(r);
    if (!entry) return false;
    entries.push_back(std::move(*entry));
  }
  return r.done();
}

std::string encode(const ContractRecord& c) {
  Writer w;
  w.integer(kContractVersion).integer(c.id).integer(c.batch).integer(c.order).integer(c.offer).integer(c.buyer);
  w.integer(c.seller).integer(c.units).integer(c.price).integer(c.transfer_charge).integer(c.hub).integer(c.cluster);
  w.text(c.resource_class).integer(c.window_begin).integer(c.window_end);
  return w.take();
}

std::optional<ContractRecord> decode_contract(std::string_view bytes) {
  Reader r(bytes);
  ContractRecord c;
  std::uint8_t version = 0;
  const bool ok = r.integer(version) && version == kContractVersion && r.integer(c.id) && r.integer(c.batch) &&
                  r.integer(c.order) && r.integer(c.offer) && r.integer(c.buyer) && r.integer(c.seller) &&
                  r.integer(c.units) && r.integer(c.price) && r.integer(c.transfer_charge) && r.integer(c.hub) &&
                  r.integer(c.cluster) && r.text(c.resource_class) && r.integer(c.window_begin) &&
                  r.integer(c.window_end) && r.done();
  if (!ok) return std::nullopt;
  return c;
}

std::string signed_bytes(const BatchRecord& b) {
  Writer w;
  w.text(kRecordTag).integer(b.number).integer(b.cleared_at).integer(b.first_contract).integer(b.contract_count);
  w.integer(b.log_size).hash(b.log_root).hash(b.previous_record).hash(b.inputs).text(b.total_surplus);
  w.integer(static_cast<std::uint32_t>(b.prices.size()));
  for (const auto& [offer, price] : b.prices) w.integer(offer).integer(price);
  return w.take();
}

std::string encode(const BatchRecord& b) {
  Writer w;
  w.text(signed_bytes(b)).text(b.signature);
  return w.take();
}

std::optional<BatchRecord> decode_batch_record(std::string_view bytes) {
  Reader outer(bytes);
  std::string signed_part;
  BatchRecord b;
  if (!outer.text(signed_part) || !outer.text(b.signature) || !outer.done()) return std::nullopt;
  Reader r(signed_part);
  std::string tag;
  std::uint32_t count = 0;
  bool ok = r.text(tag) && tag == kRecordTag && r.integer(b.number) && r.integer(b.cleared_at) &&
            r.integer(b.first_contract) && r.integer(b.contract_count) && r.integer(b.log_size) && r.hash(b.log_root) &&
            r.hash(b.previous_record) && r.hash(b.inputs) && r.text(b.total_surplus) && r.integer(count);
  for (std::uint32_t k = 0; ok && k < count; ++k) {
    std::pair<OfferId, Fen> price;
    ok = r.integer(price.first) && r.integer(price.second);
    b.prices.push_back(price);
  }
  if (!ok || !r.done()) return std::nullopt;
  return b;
}

Hash record_hash(const BatchRecord& record) { return sha256(encode(record)); }

std::string encode(const BatchInputs& inputs) {
  Writer w;
  w.text(inputs.topology).text(inputs.batch);
  return w.take();
}

std::optional<BatchInputs> decode_batch_inputs(std::string_view bytes) {
  Reader r(bytes);
  BatchInputs inputs;
  if (!r.text(inputs.topology) || !r.text(inputs.batch) || !r.done()) return std::nullopt;
  return inputs;
}

}  // namespace ewx::ledger
