// What goes wrong around a store: a second process on the same storage, a corrupt database file,
// read-only storage, a full disk, a database kept busy by another connection. Each gives a clear
// error and commits nothing.
#include <signal.h>
#if defined(__linux__)
#include <sched.h>
#include <sys/mount.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "catch.hpp"
#include "isoflow/store.hpp"
#include "store_test_util.hpp"

using namespace isoflow;
using store_test::Db;
using store_test::TempDir;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void commit_sample(SqliteStore& store, std::uint64_t batch, std::int64_t first, std::size_t n) {
    auto tx = store.transaction(batch);
    tx.append("t", store_test::sample_batch(first, n));
    tx.commit();
}

}  // namespace

TEST_CASE("a second process opening the same storage is refused with a clear error", "[store][lock]") {
    TempDir dir;
    const auto storage = dir / "st";
    {
        SqliteStore owner(storage);
        commit_sample(owner, 1, 0, 3);
        // The child writes its error message to a file for the parent to check.
        const auto message_file = dir / "child_message.txt";
        const int status = store_test::in_child([&] {
            try {
                SqliteStore intruder(storage);
                return 1;  // must not get here
            } catch (const io_error& e) {
                std::FILE* f = std::fopen(message_file.c_str(), "w");
                std::fputs(e.what(), f);
                std::fclose(f);
                return 0;
            }
        });
        REQUIRE(status == 0);
        const std::string msg = store_test::read_text(message_file);
        CHECK(contains(msg, "in use by another process"));
        CHECK(contains(msg, "pid " + std::to_string(::getpid())));
        CHECK(contains(msg, (storage / "LOCK").string()));
        // The same process opening it twice is refused as well.
        try {
            SqliteStore twice(storage);
            FAIL("a second open in the same process must be refused");
        } catch (const io_error& e) {
            CHECK(contains(e.what(), "already open in this process"));
        }
        // Read-only access beside the owner is allowed.
        SqliteStoreOptions ro;
        ro.read_only = true;
        CHECK(SqliteStore(storage, ro).row_counts().at(0).rows == 3);
    }
    // Once the owner is gone the storage opens again.
    SqliteStore next(storage);
    CHECK(next.is_committed(1));
}

TEST_CASE("the lock dies with a killed owner", "[store][lock]") {
    TempDir dir;
    const auto storage = dir / "st";
    const int status = store_test::in_child([&] {
        SqliteStore store(storage);
        ::raise(SIGKILL);
        return 0;
    });
    REQUIRE(status == 128 + SIGKILL);
    SqliteStore store(storage);
    CHECK(store.tables().empty());
}

TEST_CASE("a corrupt database file is an io_error naming the file", "[store][corrupt]") {
    TempDir dir;
    const auto storage = dir / "st";
    fs::create_directories(storage);
    const auto db_file = storage / "pipeline.db";
    SECTION("garbage instead of a database") {
        std::FILE* f = std::fopen(db_file.c_str(), "wb");
        for (int i = 0; i < 3000; ++i) std::fputs("this is not a database; ", f);
        std::fclose(f);
    }
    SECTION("a database whose header was overwritten") {
        { SqliteStore store(storage); commit_sample(store, 1, 0, 100); }
        std::FILE* f = std::fopen(db_file.c_str(), "r+b");
        std::fputs("garbage garbage garbage garbage garbage!", f);
        std::fclose(f);
    }
    try {
        SqliteStore store(storage);
        FAIL("a corrupt file must not open");
    } catch (const io_error& e) {
        const std::string msg = e.what();
        CHECK(contains(msg, db_file.string()));
        CHECK(contains(msg, "corrupt or not an SQLite database"));
    }
    // The failed open released the lock and left the file as it was.
    CHECK(fs::exists(db_file));
    CHECK_FALSE(fs::exists(storage / "pipeline.db-wal"));
}

TEST_CASE("an SQLite file that is not an isoflow store is refused", "[store][corrupt]") {
    TempDir dir;
    fs::create_directories(dir / "st");
    sqlite3* raw = nullptr;
    sqlite3_open((dir / "st" / "pipeline.db").c_str(), &raw);
    sqlite3_exec(raw, "CREATE TABLE _isoflow_meta (key TEXT PRIMARY KEY, value TEXT); "
                      "INSERT INTO _isoflow_meta VALUES ('format_version', '99')",
                 nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    try {
        SqliteStore store(dir / "st");
        FAIL("a newer format must be refused");
    } catch (const io_error& e) {
        CHECK(contains(e.what(), "format version 99"));
    }
}

TEST_CASE("read-only storage is a clear error and commits nothing", "[store][readonly]") {
    // Root ignores file permissions, so the check runs in a child that gives up root (as 'nobody');
    // without root, permissions apply to this process already.
    TempDir dir;
    const auto storage = dir / "st";
    { SqliteStore store(storage); commit_sample(store, 1, 0, 4); }
    const bool root = ::geteuid() == 0;
    const auto drop_root = [&] {
        if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return false;
        return true;
    };
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);

    SECTION("the storage folder cannot be written") {
        fs::permissions(storage, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
        fs::permissions(storage / "LOCK", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
        const auto new_storage = storage / "sub";
        const int status = store_test::in_child([&] {
            if (!drop_root()) return 3;
            int code = 0;
            try {
                SqliteStore store(storage);
                code = 1;
            } catch (const io_error& e) {
                if (!contains(e.what(), "read-only") || !contains(e.what(), storage.string())) {
                    std::fprintf(stderr, "unexpected message: %s\n", e.what());
                    code = 2;
                }
            }
            try {
                SqliteStore store(new_storage);
                code = 1;
            } catch (const io_error& e) {
                if (!contains(e.what(), "read-only")) {
                    std::fprintf(stderr, "unexpected message: %s\n", e.what());
                    code = 2;
                }
            }
            return code;
        });
        if (status == 3) {
            std::printf("SKIPPED: cannot give up root to simulate read-only storage\n");
            return;
        }
        CHECK(status == 0);
    }
    SECTION("the database file cannot be written") {
        fs::permissions(storage, fs::perms::all);
        fs::permissions(storage / "LOCK", fs::perms::all);
        fs::permissions(storage / "pipeline.db", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
        const int status = store_test::in_child([&] {
            if (!drop_root()) return 3;
            try {
                SqliteStore store(storage);
                commit_sample(store, 2, 4, 4);
                return 1;
            } catch (const io_error& e) {
                if (!contains(e.what(), "read-only") || !contains(e.what(), "pipeline.db")) {
                    std::fprintf(stderr, "unexpected message: %s\n", e.what());
                    return 2;
                }
            }
            return 0;
        });
        if (status == 3) {
            std::printf("SKIPPED: cannot give up root to simulate read-only storage\n");
            return;
        }
        CHECK(status == 0);
    }
    fs::permissions(storage, fs::perms::all);
    fs::permissions(storage / "pipeline.db", fs::perms::owner_read | fs::perms::owner_write);
    SqliteStore store(storage);
    CHECK_FALSE(store.is_committed(2));
    CHECK(store.row_counts().at(0).rows == 4);
}

TEST_CASE("a full disk fails the batch with a clear error and commits none of it", "[store][full]") {
    // The file-size limit (RLIMIT_FSIZE) makes writes past it fail as on a full disk, in a child.
    TempDir dir;
    const auto storage = dir / "st";
    { SqliteStore store(storage); commit_sample(store, 1, 0, 10); }
    const auto message_file = dir / "child_message.txt";
    const int status = store_test::in_child([&] {
        ::signal(SIGXFSZ, SIG_IGN);
        SqliteStore store(storage);
        std::uintmax_t biggest = 0;
        for (const auto& e : fs::directory_iterator(storage)) biggest = std::max(biggest, e.file_size());
        const rlimit limit{static_cast<rlim_t>(biggest + 256 * 1024), static_cast<rlim_t>(biggest + 256 * 1024)};
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 3;
        try {
            auto tx = store.transaction(2);
            tx.append("t", store_test::sample_batch(10, 50'000));  // several MB
            tx.commit();
            return 1;
        } catch (const io_error& e) {
            std::FILE* f = std::fopen(message_file.c_str(), "w");
            std::fputs(e.what(), f);
            std::fclose(f);
            return 0;
        }
    });
    if (status == 3) {
        std::printf("SKIPPED: cannot limit the file size to simulate a full disk\n");
        return;
    }
    REQUIRE(status == 0);
    const std::string msg = store_test::read_text(message_file);
    INFO(msg);
    CHECK((contains(msg, "disk full") || contains(msg, "I/O error")));
    CHECK(contains(msg, (storage / "pipeline.db").string()));
    SqliteStore store(storage);
    CHECK_FALSE(store.is_committed(2));
    CHECK(store.row_counts().at(0).rows == 10);
    commit_sample(store, 2, 10, 5);  // and the store works again
    CHECK(store.row_counts().at(0).rows == 15);
}

TEST_CASE("a database held by another connection gives a retriable busy error", "[store][busy]") {
    TempDir dir;
    SqliteStoreOptions options;
    options.busy_timeout = std::chrono::milliseconds(50);
    SqliteStore store(dir / "st", options);
    commit_sample(store, 1, 0, 2);
    {
        Db shell(store.database_path(), true);  // e.g. an sqlite3 shell with an open write transaction
        shell.exec("BEGIN IMMEDIATE");
        try {
            store.begin_batch(2);
            FAIL("the batch must not start while another connection writes");
        } catch (const store_busy_error& e) {
            CHECK(contains(e.what(), "busy"));
            CHECK(contains(e.what(), "retry"));
        }
        CHECK_FALSE(store.in_batch());
        REQUIRE_THROWS_AS(store.append_event(Event{.event_type = "update_progress"}), store_busy_error);
        shell.exec("ROLLBACK");
    }
    commit_sample(store, 2, 2, 2);  // the retry succeeds
    CHECK(store.is_committed(2));
    CHECK(store.events_after(0).empty());
}

#if defined(__linux__)
namespace {

// In a child: a private mount namespace with a small tmpfs at `where`; false when not permitted.
bool mount_small_tmpfs(const fs::path& where, const char* options) {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    return ::mount("tmpfs", where.c_str(), "tmpfs", 0, options) == 0;
}

}  // namespace

TEST_CASE("a really full file system (small tmpfs) fails the batch and commits nothing", "[store][full]") {
    TempDir dir;
    const auto mnt = dir / "mnt";
    fs::create_directories(mnt);
    const int status = store_test::in_child([&] {
        if (!mount_small_tmpfs(mnt, "size=4m")) return 3;
        const auto storage = mnt / "st";
        {
            SqliteStore store(storage);
            commit_sample(store, 1, 0, 10);
            try {
                commit_sample(store, 2, 10, 200'000);  // far more than 4 MiB
                return 1;
            } catch (const io_error& e) {
                if (!contains(e.what(), "disk full") || !contains(e.what(), (storage / "pipeline.db").string())) {
                    std::fprintf(stderr, "unexpected message: %s\n", e.what());
                    return 2;
                }
            }
            if (store.in_batch() || store.is_committed(2)) return 4;
        }
        SqliteStore again(storage);
        if (again.is_committed(2) || !again.is_committed(1)) return 5;
        if (again.row_counts().at(0).rows != 10) return 6;
        return 0;
    });
    if (status == 3) {
        std::printf("SKIPPED: not permitted to mount a small tmpfs (a real full disk); the file-size-limit test covers it\n");
        return;
    }
    CHECK(status == 0);
}

TEST_CASE("a read-only file system (tmpfs remounted read-only) is a clear error", "[store][readonly]") {
    TempDir dir;
    const auto mnt = dir / "mnt";
    fs::create_directories(mnt);
    const int status = store_test::in_child([&] {
        if (!mount_small_tmpfs(mnt, "size=8m")) return 3;
        const auto storage = mnt / "st";
        { SqliteStore store(storage); commit_sample(store, 1, 0, 10); }
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=8m") != 0) return 3;
        try {
            SqliteStore store(storage);
            return 1;
        } catch (const io_error& e) {
            if (!contains(e.what(), "read-only") || !contains(e.what(), storage.string())) {
                std::fprintf(stderr, "unexpected message: %s\n", e.what());
                return 2;
            }
        }
        SqliteStoreOptions ro;
        ro.read_only = true;
        SqliteStore reader(storage, ro);  // `isoflow status` still works
        if (reader.row_counts().at(0).rows != 10) return 4;
        return 0;
    });
    if (status == 3) {
        std::printf("SKIPPED: not permitted to mount a read-only tmpfs; the permission test covers it\n");
        return;
    }
    CHECK(status == 0);
}
#endif
