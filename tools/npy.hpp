// The header of a NumPy .npy file holding an n x n int64 matrix, for the Python peers of the benchmarks
// (ewx-gen assignment --npy, ewx-gpu-bench --npy): the matrix's rows follow it, row after row.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ewx::tools {

// NumPy .npy version 1.0: magic, version, little-endian header length, a Python dict literal padded so
// the data starts on a 64-byte boundary, then the int64 matrix in C order.
inline void write_npy_header(std::FILE* out, std::uint64_t n) {
  std::string header =
      "{'descr': '<i8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " + std::to_string(n) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  std::fwrite("\x93NUMPY\x01\x00", 1, 8, out);
  const unsigned char le[2] = {static_cast<unsigned char>(length & 0xff), static_cast<unsigned char>(length >> 8)};
  std::fwrite(le, 1, 2, out);
  std::fwrite(header.data(), 1, header.size(), out);
}

}  // namespace ewx::tools
