// Helpers for the store tests: temporary folders, an independent SQLite connection to check what
// the store wrote, and small batches.
#pragma once

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "isoflow/core/batch.hpp"

namespace store_test {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("isoflow_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

// A second, independent connection (as the sqlite3 shell would open), for checking the file.
class Db {
public:
    explicit Db(const fs::path& file, bool writable = false) {
        const int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
        if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK)
            throw std::runtime_error("test: cannot open " + file.string());
    }
    ~Db() { sqlite3_close_v2(db_); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Every row of the query, each value as text; NULL as "NULL".
    std::vector<std::vector<std::string>> rows(const std::string& sql) const {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error("test: bad SQL " + sql + ": " + sqlite3_errmsg(db_));
        std::vector<std::vector<std::string>> out;
        int rc = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                const auto* t = sqlite3_column_text(st, c);
                row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
            }
            out.push_back(std::move(row));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) throw std::runtime_error("test: query failed " + sql + ": " + sqlite3_errmsg(db_));
        return out;
    }
    std::string value(const std::string& sql) const {
        auto r = rows(sql);
        if (r.empty() || r[0].empty()) throw std::runtime_error("test: no value from " + sql);
        return r[0][0];
    }
    void exec(const std::string& sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : "?";
            sqlite3_free(msg);
            throw std::runtime_error("test: exec failed " + sql + ": " + m);
        }
    }
    [[nodiscard]] sqlite3* get() const { return db_; }

private:
    sqlite3* db_ = nullptr;
};

// Runs `body` in a child process; returns its exit status (or 128 + signal). Whatever the body
// throws becomes exit status 100 after printing the message.
inline int in_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("test: fork failed");
    if (pid == 0) {
        int code = 0;
        try {
            code = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            code = 100;
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Rows [first, first + n) of a small table of every type: id BIGINT, x DOUBLE, flag BOOLEAN,
// name STRING, at TIMESTAMP; row i has nulls where i % 5 == column index (id never null).
inline isoflow::Batch sample_batch(std::int64_t first, std::size_t n) {
    using namespace isoflow;
    Column id(DataType::int64), x(DataType::float64), flag(DataType::boolean), name(DataType::string),
        at(DataType::timestamp);
    for (std::size_t k = 0; k < n; ++k) {
        const std::int64_t i = first + static_cast<std::int64_t>(k);
        id.append_int64(i);
        i % 5 == 1 ? x.append_null() : x.append_double(static_cast<double>(i) * 0.5 - 3.25);
        i % 5 == 2 ? flag.append_null() : flag.append_bool(i % 2 == 0);
        i % 5 == 3 ? name.append_null() : name.append_string("row \"" + std::to_string(i) + "\", ok");
        i % 5 == 4 ? at.append_null() : at.append_timestamp(1'700'000'000'000'000 + i * 1'000'001);
    }
    Batch b;
    b.add_column("id", std::move(id));
    b.add_column("x", std::move(x));
    b.add_column("flag", std::move(flag));
    b.add_column("name", std::move(name));
    b.add_column("at", std::move(at));
    return b;
}

}  // namespace store_test
