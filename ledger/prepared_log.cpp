// Spares for the write-ahead log (design in prepared_log.hpp).
//
// The zeros are written through the page cache, not around it: RocksDB then writes its records into pages
// already in memory, where a file written with O_DIRECT would make each partial-page write of the log
// read its page from the disk first.
//
// Every file of ours has a name of its own (a counter), so that a spare being made is never renamed over
// one RocksDB is reopening as a log, and a retired log never over a spare.
#include "ledger/prepared_log.hpp"

#include <fcntl.h>
#include <pthread.h>
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

// What follows the last '/' of a path.
std::string_view file_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A log over a spare. RocksDB preallocates each log (fallocate, in blocks of 1.1 memtables or of
// max_total_wal_size) and trims what it did not use when it closes the log; within the spare every block
// is already allocated and written, so that would only add unwritten extents past the spare and free them
// again at every log switch. So preallocation is left to RocksDB only past the spare, and a log closed
// within its spare keeps its size, zeros after its last record, ready to be made a spare again.
class LogOverSpare final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  LogOverSpare(std::unique_ptr<rocksdb::FSWritableFile> file, std::uint64_t bytes)
      : FSWritableFileOwnerWrapper(std::move(file)), bytes_(bytes) {}
  void PrepareWrite(size_t offset, size_t len, const rocksdb::IOOptions& options,
                    rocksdb::IODebugContext* debug) override {
    if (offset + len > bytes_) FSWritableFileOwnerWrapper::PrepareWrite(offset, len, options, debug);
  }

 private:
  std::uint64_t bytes_;
};

}  // namespace

PreparedLogFileSystem::PreparedLogFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::filesystem::path dir,
                                             std::uint64_t bytes, std::shared_ptr<rocksdb::RateLimiter> pace,
                                             std::size_t piece)
    : FileSystemWrapper(std::move(base)), dir_(std::move(dir)), bytes_(bytes), pace_(std::move(pace)), piece_(piece) {
  remove_ours();  // not made by this process: not trusted (see the header)
  const std::filesystem::path first = fresh_name("ewx-log-spare-");
  prepare({}, first, nullptr);  // nothing else runs yet: at the disk's own speed
  spares_.push_back(first);
  preparer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ewx-log-spares");
    prepare_loop();
  });
}

PreparedLogFileSystem::~PreparedLogFileSystem() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  preparer_.join();
  remove_ours();  // never used by another process (see the header), so not left to take up the disk
}

bool PreparedLogFileSystem::is_log(std::string_view name) {
  name = file_name(name);
  if (name.size() <= 4 || !name.ends_with(".log")) return false;
  name.remove_suffix(4);
  return name.find_first_not_of("0123456789") == std::string_view::npos;
}

bool PreparedLogFileSystem::is_ours(std::string_view name) { return file_name(name).starts_with("ewx-log-"); }

void PreparedLogFileSystem::remove_ours() const {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    std::error_code ignored;
    if (is_ours(entry.path().string())) std::filesystem::remove(entry.path(), ignored);
  }
}

std::filesystem::path PreparedLogFileSystem::fresh_name(std::string_view prefix) {
  return dir_ / (std::string(prefix) + std::to_string(++names_));
}

rocksdb::IOStatus PreparedLogFileSystem::NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                                         std::unique_ptr<rocksdb::FSWritableFile>* file,
                                                         rocksdb::IODebugContext* debug) {
  if (!is_log(name)) return target()->NewWritableFile(name, options, file, debug);
  std::filesystem::path spare;
  {
    std::lock_guard lock(mutex_);
    if (!spares_.empty()) {
      spare = std::move(spares_.front());
      spares_.pop_front();
    }
    failed_ = false;
  }
  wanted_.notify_one();  // one spare fewer
  std::unique_ptr<rocksdb::FSWritableFile> reused;
  if (!spare.empty() && target()->ReuseWritableFile(name, spare.string(), options, &reused, debug).ok()) {
    *file = std::make_unique<LogOverSpare>(std::move(reused), bytes_);
    prepared_logs_.fetch_add(1, std::memory_order_relaxed);
    return rocksdb::IOStatus::OK();
  }
  appended_logs_.fetch_add(1, std::memory_order_relaxed);
  return target()->NewWritableFile(name, options, file, debug);
}

rocksdb::IOStatus PreparedLogFileSystem::DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                                                    rocksdb::IODebugContext* debug) {
  if (!is_log(name)) return target()->DeleteFile(name, options, debug);
  std::filesystem::path retired;
  {
    std::lock_guard lock(mutex_);
    retired = fresh_name("ewx-log-retired-");
  }
  // A log that cannot be renamed (it is not there, say) is RocksDB's to delete, with RocksDB's answer.
  if (::rename(name.c_str(), retired.c_str()) != 0) return target()->DeleteFile(name, options, debug);
  {
    std::lock_guard lock(mutex_);
    retired_.push_back(std::move(retired));
    failed_ = false;
  }
  wanted_.notify_one();
  return rocksdb::IOStatus::OK();
}

void PreparedLogFileSystem::prepare_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // A spare from a retired log whenever one is short; from a new file only when none is left, since
    // the log just replaced will retire soon; a retired log with every spare ready is deleted.
    wanted_.wait(lock, [&] { return stopping_ || (!failed_ && (spares_.empty() || !retired_.empty())); });
    if (stopping_) return;
    std::filesystem::path from;
    if (!retired_.empty()) {
      from = std::move(retired_.front());
      retired_.pop_front();
    }
    if (spares_.size() >= kSpares) {
      lock.unlock();
      std::error_code ignored;
      std::filesystem::remove(from, ignored);
      lock.lock();
      continue;
    }
    const std::filesystem::path spare = fresh_name("ewx-log-spare-");
    lock.unlock();
    bool made = false;
    try {
      prepare(from, spare, pace_.get());
      made = true;
    } catch (const std::system_error&) {
      // No spare this time (a full disk, say, or the ledger closing): what was begun is removed, and the
      // next try waits for a log to open or retire, rather than this thread retrying against a disk that
      // has just refused.
      std::error_code ignored;
      std::filesystem::remove(from, ignored);
      std::filesystem::remove(spare.string() + ".preparing", ignored);
    }
    lock.lock();
    if (made) {
      spares_.push_back(spare);
      if (!from.empty()) recycled_spares_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed_ = true;
    }
  }
}

void PreparedLogFileSystem::prepare(const std::filesystem::path& from, const std::filesystem::path& spare,
                                    rocksdb::RateLimiter* pace) const {
  const std::filesystem::path preparing = spare.string() + ".preparing";
  if (!from.empty() && ::rename(from.c_str(), preparing.c_str()) != 0) fail("cannot rename " + from.string());
  {
    // A retired log is written over from the start, every record of it replaced by zeros.
    Descriptor file(preparing, from.empty() ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY);
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
      if (n <= 0) fail("cannot write " + preparing.string());
      // Handed to the disk now, a piece at a time: left to the final sync, the whole spare would reach the
      // disk in one burst, and every journal sync meanwhile would wait behind it.
      ::sync_file_range(file.get(), static_cast<off_t>(written), n, SYNC_FILE_RANGE_WRITE);
      written += static_cast<std::uint64_t>(n);
    }
    // A log that outgrew its spare: what it appended past the spare goes, records and all.
    if (::ftruncate(file.get(), static_cast<off_t>(bytes_)) != 0) fail("cannot truncate " + preparing.string());
    if (::fdatasync(file.get()) != 0) fail("cannot sync " + preparing.string());
  }
  if (::rename(preparing.c_str(), spare.c_str()) != 0) fail("cannot rename " + preparing.string());
  Descriptor dir(dir_, O_RDONLY | O_DIRECTORY);
  if (::fsync(dir.get()) != 0) fail("cannot sync " + dir_.string());
}

}  // namespace ewx::ledger
