// A scratch directory for a test or a benchmark, removed with everything in it when it goes.
//
//   edgesketch::testbed::TempDir dir("es-store-bench");  // $TMPDIR/es-store-bench-XXXXXX
//   if (dir.path().empty()) ... dir.error() ...
//   if (HasFailure()) dir.keep();                       // leave the files to be looked at
//
// Not thread-safe; one owner.
#pragma once

#include <string>

#include "edgesketch/common/status.h"

namespace edgesketch::testbed {

class TempDir {
 public:
  // Creates $TMPDIR/<prefix>-XXXXXX (/tmp when TMPDIR is unset or empty).
  explicit TempDir(const std::string& prefix);
  // Removes the directory and its contents unless keep() was called.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory, "" when it could not be created.
  const std::string& path() const { return path_; }
  // The path of `name` in the directory.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Why it could not be created ("" when it was).
  const std::string& error() const { return error_; }
  // Leaves the directory in place when the object goes.
  void keep() { keep_ = true; }

 private:
  std::string path_;
  std::string error_;
  bool keep_ = false;
};

// Writes `text` to `path`, replacing the file; kIoError naming the path when that fails.
Status write_text_file(const std::string& path, const std::string& text);

}  // namespace edgesketch::testbed
