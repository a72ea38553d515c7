// Thin RAII over SQLite's C API, and the translation of its result codes into isoflow's errors:
// busy -> store_busy_error (retry), full disk / read-only / corrupt file -> io_error naming the file.
#pragma once

#include <sqlite3.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "isoflow/core/error.hpp"
#include "isoflow/store/store.hpp"

namespace isoflow::detail::store {

// Throws the error that fits SQLite's result code `rc` for an operation (`doing`, e.g. "appending
// to table 'gold'") on database file `file`.
[[noreturn]] inline void throw_sqlite(sqlite3* db, int rc, std::string_view doing, const std::string& file) {
    const int primary = rc & 0xff;
    std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db) {
        const int sys = sqlite3_system_errno(db);
        if (sys != 0 && primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB)
            detail += std::string("; ") + std::strerror(sys);
    }
    const std::string where = "'" + file + "'";
    switch (primary) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            throw_error<store_busy_error>("database " + where + " is busy while " + std::string(doing) +
                                          " (another connection holds a lock: " + detail +
                                          "); nothing was committed, retry later");
        case SQLITE_FULL:
            throw_error<io_error>("disk full while " + std::string(doing) + " in " + where + " (" + detail +
                                  "); nothing was committed: free space and run again");
        case SQLITE_READONLY:
            throw_error<io_error>("storage is read-only: cannot write " + where + " while " +
                                  std::string(doing) + " (" + detail + ")");
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            throw_error<io_error>(where + " is corrupt or not an SQLite database (" + detail + ") while " +
                                  std::string(doing) +
                                  ": move it away (or restore a backup) and run again");
        case SQLITE_CANTOPEN:
            throw_error<io_error>("cannot open database " + where + " while " + std::string(doing) + " (" +
                                  detail + ")");
        case SQLITE_PERM:
        case SQLITE_AUTH:
            throw_error<io_error>("permission denied on " + where + " while " + std::string(doing) + " (" +
                                  detail + ")");
        case SQLITE_IOERR:
            // A short write for lack of space can surface as an I/O error (EFBIG, ENOSPC).
            throw_error<io_error>("I/O error on " + where + " while " + std::string(doing) + " (" + detail + ")");
        case SQLITE_TOOBIG:
        case SQLITE_MISMATCH:
        case SQLITE_CONSTRAINT:
            throw_error<schema_error>("cannot store the rows in " + where + " while " + std::string(doing) +
                                      ": " + detail);
        default:
            throw_error<io_error>("SQLite error on " + where + " while " + std::string(doing) + ": " + detail);
    }
}

// A prepared statement; finalized on destruction.
class Statement {
public:
    Statement() = default;
    Statement(sqlite3* db, std::string_view sql, const std::string& file, std::string_view doing) : db_(db) {
        const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
        if (rc != SQLITE_OK) throw_sqlite(db, rc, doing, file);
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}
    Statement& operator=(Statement&& o) noexcept {
        if (this != &o) {
            sqlite3_finalize(stmt_);
            db_ = o.db_;
            stmt_ = std::exchange(o.stmt_, nullptr);
        }
        return *this;
    }
    ~Statement() { sqlite3_finalize(stmt_); }

    [[nodiscard]] sqlite3_stmt* get() const noexcept { return stmt_; }

    Statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Statement& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
    Statement& bind(int i, double v) {
        sqlite3_bind_double(stmt_, i, v);
        return *this;
    }
    // The text must outlive the next step().
    Statement& bind(int i, std::string_view v) {
        sqlite3_bind_text64(stmt_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8);
        return *this;
    }
    Statement& bind_null(int i) {
        sqlite3_bind_null(stmt_, i);
        return *this;
    }

    // True while a row is available; false when done. Errors throw.
    bool step(const std::string& file, std::string_view doing) {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        sqlite3_reset(stmt_);
        throw_sqlite(db_, rc, doing, file);
    }
    void reset() noexcept {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    [[nodiscard]] bool is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    [[nodiscard]] std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
    [[nodiscard]] double real(int col) const noexcept { return sqlite3_column_double(stmt_, col); }
    [[nodiscard]] std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        const int n = sqlite3_column_bytes(stmt_, col);
        return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
    }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

// Runs SQL without results (may hold several statements).
inline void exec(sqlite3* db, const std::string& sql, const std::string& file, std::string_view doing) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK) throw_sqlite(db, rc, doing, file);
}

}  // namespace isoflow::detail::store
