// Frames on the wire: a 4-byte little-endian length, then one FlatBuffers Envelope (schemas/ewx.fbs).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "schemas/ewx_generated.h"

namespace ewx::gateway {

// The largest envelope a peer may send. Orders and queries are a few hundred bytes; a page of contracts or
// a batch record with every offer's price is the largest answer, well below this.
inline constexpr std::uint32_t kMaxFrameBytes = 1u << 20;

// Appends `builder`'s finished Envelope to `out` as one frame.
void append_frame(std::vector<std::uint8_t>& out, const flatbuffers::FlatBufferBuilder& builder);

// Reassembles frames from a byte stream (a TCP connection reads arbitrary pieces) and checks each with the
// FlatBuffers Verifier before anything reads it.
class FrameReader {
 public:
  explicit FrameReader(std::uint32_t max_frame_bytes = kMaxFrameBytes) : max_(max_frame_bytes) {}

  // Adds bytes read from the stream. Memory stays bounded: at most one frame of max_frame_bytes is ever
  // held, because an oversized length is refused before anything is buffered for it.
  void append(std::span<const std::uint8_t> bytes);

  enum class Result {
    need_more,    // no complete frame buffered
    frame,        // envelope() is a verified Envelope, valid until the next call
    too_large,    // the length prefix exceeds the cap: the stream cannot be resynchronised, close it
    malformed,    // a complete frame that fails verification (error() says why); the next frame may follow
    unsupported,  // a valid envelope whose payload type is newer than this build: only envelope()->request_id()
                  // may be read; answer Reject(unsupported), as the evolution rules say
  };
  Result next();
  const wire::Envelope* envelope() const { return envelope_; }
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::uint32_t max_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  std::vector<std::uint8_t> aligned_;  // the current frame, copied to storage operator new aligns (16 bytes)
  const wire::Envelope* envelope_ = nullptr;
  std::string error_;
  bool broken_ = false;
};

}  // namespace ewx::gateway
