// FaultFileOps: POSIX file operations with switchable failures.
#include "support/fault_file_ops.h"

namespace edgesketch::test_support {

class FaultFileOps::File final : public agent::AppendFile {
 public:
  File(FaultFileOps& ops, std::unique_ptr<agent::AppendFile> real)
      : ops_(ops), real_(std::move(real)) {}
  Status append(ByteSpan data) override {
    if (ops_.write_errno.load() != 0 && ops_.partial.load()) {
      ES_RETURN_IF_ERROR(real_->append(data.first(data.size() / 2)));
    }
    ES_RETURN_IF_ERROR(ops_.fail(ops_.write_errno, "write", path()));
    return real_->append(data);
  }
  Status sync() override {
    ES_RETURN_IF_ERROR(ops_.fail(ops_.sync_errno, "fdatasync", path()));
    return real_->sync();
  }
  Status truncate(std::uint64_t size) override {
    ES_RETURN_IF_ERROR(ops_.fail(ops_.truncate_errno, "ftruncate", path()));
    return real_->truncate(size);
  }
  const std::string& path() const override { return real_->path(); }

 private:
  FaultFileOps& ops_;
  std::unique_ptr<agent::AppendFile> real_;
};

Status FaultFileOps::fail(const std::atomic<int>& sw, std::string_view op,
                          const std::string& path) {
  const int e = sw.load();
  if (e == 0) return Status();
  injected_.fetch_add(1);
  return agent::errno_status(op, path, e);
}

Result<std::unique_ptr<agent::AppendFile>> FaultFileOps::open_append(const std::string& path,
                                                                     bool truncate) {
  ES_RETURN_IF_ERROR(fail(open_errno, "open", path));
  ES_ASSIGN_OR_RETURN(auto file, real_.open_append(path, truncate));
  return std::unique_ptr<agent::AppendFile>(std::make_unique<File>(*this, std::move(file)));
}

Result<Bytes> FaultFileOps::read_file(const std::string& path) { return real_.read_file(path); }

Result<std::vector<std::string>> FaultFileOps::list_dir(const std::string& dir) {
  return real_.list_dir(dir);
}

Status FaultFileOps::remove_file(const std::string& path) {
  ES_RETURN_IF_ERROR(fail(remove_errno, "unlink", path));
  return real_.remove_file(path);
}

Status FaultFileOps::create_dir(const std::string& dir) { return real_.create_dir(dir); }

Status FaultFileOps::sync_dir(const std::string& dir) {
  ES_RETURN_IF_ERROR(fail(sync_errno, "fsync", dir));
  return real_.sync_dir(dir);
}

}  // namespace edgesketch::test_support
