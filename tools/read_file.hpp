// Reading a whole input file for the command-line tools, with a clear message when it cannot be read.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

namespace ewx::tools {

inline std::string read_whole_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open '" + path + "' for reading");
  std::string text;
  if (std::fseek(file, 0, SEEK_END) == 0) {
    const long size = std::ftell(file);
    if (size > 0) text.reserve(static_cast<std::size_t>(size));
    std::rewind(file);
  }
  char chunk[1 << 16];
  std::size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0) text.append(chunk, got);
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (failed) throw std::runtime_error("error while reading '" + path + "'");
  return text;
}

}  // namespace ewx::tools
