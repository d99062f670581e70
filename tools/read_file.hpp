// Reading a whole input file for the command-line tools, with a clear message when it cannot be read.
//
// The size comes from fstat, and only for a regular file: a pipe (`<(ewx-gen ...)`) or a device has none,
// and a directory, which fopen opens on Linux, is refused by name instead of failing later as a
// bad_alloc from a size ftell made up.
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace ewx::tools {

inline std::string read_whole_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open '" + path + "' for reading");
  std::string text;
  struct stat status {};
  if (::fstat(::fileno(file), &status) == 0) {
    if (S_ISDIR(status.st_mode)) {
      std::fclose(file);
      throw std::runtime_error("'" + path + "' is a directory, not a file");
    }
    if (S_ISREG(status.st_mode) && status.st_size > 0) text.reserve(static_cast<std::size_t>(status.st_size));
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
