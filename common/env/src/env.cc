// The Env operations composed of others, and the helpers every Env shares.
#include "edgesketch/env/env.h"

#include <cerrno>
#include <cstring>

namespace edgesketch::env {

Status errno_status(std::string_view op, std::string_view path, int err) {
  std::string m(op);
  m += ' ';
  m += path;
  m += ": ";
  m += std::strerror(err);
  m += " (errno " + std::to_string(err) + ")";
  return Status::io_error(std::move(m));
}

int errno_of(const Status& status) {
  const std::string& m = status.message();
  const auto pos = m.rfind("(errno ");
  if (pos == std::string::npos) return 0;
  return std::atoi(m.c_str() + pos + 7);
}

bool is_temporary(const Status& status) {
  return status.code() == StatusCode::kIoError || status.code() == StatusCode::kUnavailable;
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

Status Env::ensure_dir(const std::string& dir) {
  if (dir.empty() || exists(dir)) return create_dir(dir);
  const std::string parent = parent_dir(dir);
  if (parent != dir && parent != "." && parent != "/") ES_RETURN_IF_ERROR(ensure_dir(parent));
  return create_dir(dir);
}

Status Env::write_file_durable(const std::string& path, ByteSpan data) {
  const std::string tmp = path + ".tmp";
  Status s;
  {
    auto f = open_append(tmp, /*truncate=*/true);
    if (!f.ok()) return f.status();
    s = (*f)->append(data);
    if (s.ok()) s = (*f)->sync();
  }
  if (s.ok()) s = rename(tmp, path);
  if (!s.ok()) {
    (void)remove_file(tmp);
    return s;
  }
  return sync_dir(parent_dir(path));
}

Status Env::rename_durable(const std::string& from, const std::string& to) {
  ES_RETURN_IF_ERROR(rename(from, to));
  ES_RETURN_IF_ERROR(sync_dir(parent_dir(to)));
  if (parent_dir(from) != parent_dir(to)) ES_RETURN_IF_ERROR(sync_dir(parent_dir(from)));
  return Status();
}

}  // namespace edgesketch::env
