// Statement, Transaction and the SQLite result-code mapping.
#include "edgesketch/sqlite/statement.h"

namespace edgesketch::sqlite {

Status sqlite_status(sqlite3* db, int rc, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  m += " (sqlite code ";
  m += std::to_string(db != nullptr ? sqlite3_extended_errcode(db) : rc);
  m += ')';
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::corruption(std::move(m));
    case SQLITE_FULL:  // the disk is full: a temporary fault like any other I/O error
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::io_error(std::move(m));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::unavailable(std::move(m));
    default:
      return Status::internal(std::move(m));
  }
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqlite_status(db, rc, "prepare `" + std::string(sql) + "`");
  }
  Statement s;
  s.stmt_.reset(raw);
  s.db_ = db;
  return s;
}

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_.get(), index, v);
  return *this;
}

Statement& Statement::bind(int index, ByteSpan blob) {
  // A zero-length blob still binds a blob, not NULL.
  static const std::uint8_t kEmpty = 0;
  sqlite3_bind_blob64(stmt_.get(), index, blob.empty() ? &kEmpty : blob.data(), blob.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_status(db_, rc, std::string("`") + sqlite3_sql(stmt_.get()) + "`");
}

Status Statement::run() {
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status();
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

ByteSpan Statement::column_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr || n <= 0) return {};
  return ByteSpan(static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n));
}

std::string Statement::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), col);
  int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

Status exec_sql(sqlite3* db, std::string_view sql) {
  std::string s(sql);
  int rc = sqlite3_exec(db, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(db, rc, "`" + s + "`");
  return Status();
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::begin() {
  ES_RETURN_IF_ERROR(exec_sql(db_, "BEGIN IMMEDIATE"));
  open_ = true;
  return Status();
}

Status Transaction::commit() {
  Status s = exec_sql(db_, "COMMIT");
  // After a failed COMMIT SQLite may have rolled back already; the destructor's ROLLBACK is then
  // a harmless error. (autocommit mode on means no transaction is open any more.)
  if (s.ok() || sqlite3_get_autocommit(db_) != 0) open_ = false;
  return s;
}

}  // namespace edgesketch::sqlite
