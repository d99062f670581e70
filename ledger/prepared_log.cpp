// Spares for the write-ahead log (design in prepared_log.hpp).
//
// The zeros are written through the page cache, not around it: RocksDB then writes its records into pages
// already in memory, where a file written with O_DIRECT would make each partial-page write of the log
// read its page from the disk first.
#include "ledger/prepared_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

namespace ewx::ledger {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

class Descriptor {
 public:
  Descriptor(const std::filesystem::path& path, int flags) : fd_(::open(path.c_str(), flags | O_CLOEXEC, 0644)) {
    if (fd_ < 0) fail("cannot open " + path.string());
  }
  ~Descriptor() { ::close(fd_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

PreparedLogFileSystem::PreparedLogFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::filesystem::path dir,
                                             std::uint64_t bytes, std::shared_ptr<rocksdb::RateLimiter> pace,
                                             std::size_t piece)
    : FileSystemWrapper(std::move(base)),
      spare_(dir / "ewx-log-spare"),
      preparing_(dir / "ewx-log-spare.preparing"),
      bytes_(bytes),
      pace_(std::move(pace)),
      piece_(piece) {
  std::error_code ignored;
  std::filesystem::remove(spare_, ignored);  // not made by this process: not trusted (see the header)
  prepare(nullptr);                          // nothing else runs yet: at the disk's own speed
  spare_ready_ = true;
  preparer_ = std::thread([this] { prepare_loop(); });
}

PreparedLogFileSystem::~PreparedLogFileSystem() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  preparer_.join();
  // Never used by another process (see the header), so not left to take up the disk.
  std::error_code ignored;
  std::filesystem::remove(preparing_, ignored);
  std::filesystem::remove(spare_, ignored);
}

bool PreparedLogFileSystem::is_log(std::string_view name) {
  const auto slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (name.size() <= 4 || !name.ends_with(".log")) return false;
  name.remove_suffix(4);
  return name.find_first_not_of("0123456789") == std::string_view::npos;
}

rocksdb::IOStatus PreparedLogFileSystem::NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                                         std::unique_ptr<rocksdb::FSWritableFile>* file,
                                                         rocksdb::IODebugContext* debug) {
  if (!is_log(name)) return target()->NewWritableFile(name, options, file, debug);
  bool take = false;
  {
    std::lock_guard lock(mutex_);
    take = spare_ready_;
    spare_ready_ = false;
  }
  const bool reused = take && target()->ReuseWritableFile(name, spare_.string(), options, file, debug).ok();
  // The next log's spare, made while this one is written; asked for only now that the spare has been
  // renamed, since a new one renamed over it between ReuseWritableFile's open and its rename would leave
  // the log's name on the new file and the log's writes in the old, unlinked one.
  {
    std::lock_guard lock(mutex_);
    spare_wanted_ = true;
  }
  wanted_.notify_one();
  if (reused) {
    prepared_logs_.fetch_add(1, std::memory_order_relaxed);
    return rocksdb::IOStatus::OK();
  }
  appended_logs_.fetch_add(1, std::memory_order_relaxed);
  return target()->NewWritableFile(name, options, file, debug);
}

void PreparedLogFileSystem::prepare_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wanted_.wait(lock, [&] { return stopping_ || (spare_wanted_ && !spare_ready_); });
    if (stopping_) return;
    spare_wanted_ = false;
    lock.unlock();
    bool made = false;
    try {
      prepare(pace_.get());
      made = true;
    } catch (const std::system_error&) {
      // No spare this time (a full disk, say, or the ledger closing): the next log is made the ordinary way
      // and asks again, rather than this thread retrying against a disk that has just refused.
    }
    lock.lock();
    spare_ready_ = made;
  }
}

void PreparedLogFileSystem::prepare(rocksdb::RateLimiter* pace) const {
  {
    Descriptor file(preparing_, O_WRONLY | O_CREAT | O_TRUNC);
    // A piece the limiter can grant in one refill (asking for more than that is an error there).
    const std::size_t piece =
        pace ? std::min<std::size_t>(piece_, static_cast<std::size_t>(pace->GetSingleBurstBytes())) : piece_;
    const std::vector<char> zeros(piece, 0);
    for (std::uint64_t written = 0; written < bytes_;) {
      if (stopping_.load(std::memory_order_relaxed)) throw std::system_error(ECANCELED, std::generic_category());
      const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(piece, bytes_ - written));
      if (pace)
        pace->Request(static_cast<std::int64_t>(chunk), rocksdb::Env::IO_LOW, nullptr,
                      rocksdb::RateLimiter::OpType::kWrite);
      const ssize_t n = ::write(file.get(), zeros.data(), chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write " + preparing_.string());
      // Handed to the disk now, a piece at a time: left to the final sync, the whole spare would reach the
      // disk in one burst, and every journal sync meanwhile would wait behind it.
      ::sync_file_range(file.get(), static_cast<off_t>(written), n, SYNC_FILE_RANGE_WRITE);
      written += static_cast<std::uint64_t>(n);
    }
    if (::fdatasync(file.get()) != 0) fail("cannot sync " + preparing_.string());
  }
  if (::rename(preparing_.c_str(), spare_.c_str()) != 0) fail("cannot rename " + preparing_.string());
  Descriptor dir(spare_.parent_path(), O_RDONLY | O_DIRECTORY);
  if (::fsync(dir.get()) != 0) fail("cannot sync " + spare_.parent_path().string());
}

}  // namespace ewx::ledger
