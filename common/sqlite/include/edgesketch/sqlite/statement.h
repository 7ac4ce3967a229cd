// A thin RAII layer over the SQLite C API, shared by the agent's outbox and the collector's series
// catalog and ledger: prepared statements, transactions and the mapping of SQLite result codes to
// Status. Nothing here throws; nothing is thread-safe (each user serialises use of a connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::sqlite {

// Maps an SQLite result code to a Status: corruption for SQLITE_CORRUPT / SQLITE_NOTADB,
// io_error for SQLITE_FULL / SQLITE_IOERR* / SQLITE_CANTOPEN (temporary: a full disk or a
// failing device may recover),
// unavailable for SQLITE_BUSY / SQLITE_LOCKED, internal otherwise. The message is
// "<what>: <sqlite3_errmsg> (sqlite code <extended code>)".
Status sqlite_status(sqlite3* db, int rc, std::string_view what);

// One prepared statement; reset() after each use so it can run again.
class Statement {
 public:
  Statement() = default;
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);

  // Bind by 1-based index. Blobs and text are copied (SQLITE_TRANSIENT).
  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, ByteSpan blob);
  Statement& bind(int index, std::string_view text);

  // Runs one step: true when a row is ready, false when done. Errors name the statement.
  Result<bool> step();
  // step() until done, for statements that return no rows.
  Status run();
  // Resets and clears the bindings.
  void reset();

  std::int64_t column_int(int col) const;
  // Valid until the next step(), reset() or destruction.
  ByteSpan column_blob(int col) const;
  std::string column_text(int col) const;

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  sqlite3* db_ = nullptr;
};

// Runs SQL that returns no rows (several statements allowed).
Status exec_sql(sqlite3* db, std::string_view sql);

// BEGIN IMMEDIATE on begin(); ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin();
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace edgesketch::sqlite
