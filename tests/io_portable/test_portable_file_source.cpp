// The file source on the standard-library-only platform code (ISOFLOW_IO_PORTABLE_ONLY, see
// include/isoflow/io/detail/platform.hpp): what macOS, the BSDs and Windows get, minus their
// native calls. A program of its own: the macro changes inline functions, so it must hold for
// every translation unit of a program (here: this one file).
#define ISOFLOW_IO_PORTABLE_ONLY 1

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "catch.hpp"
#include "io/checkpoint_restart_cases.hpp"
#include "io/file_source_util.hpp"
#include "io/io_test_util.hpp"
#include "isoflow/io.hpp"

static_assert(ISOFLOW_IO_DETAIL_INOTIFY == 0, "ISOFLOW_IO_PORTABLE_ONLY must turn inotify off");

using namespace isoflow;
using io_test::age;
using io_test::write_file;
using io_test::base;
using io_test::drain;
using io_test::row;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names(const BatchPlan& p) {
    std::vector<std::string> out;
    for (const auto& f : p.files) out.push_back(fs::path(f.path).filename().string());
    return out;
}

// Sets a modification time at nanosecond resolution, `base` plus `offset`.
void set_mtime(const fs::path& p, fs::file_time_type base, std::chrono::nanoseconds offset) {
    fs::last_write_time(p, base + std::chrono::duration_cast<fs::file_time_type::duration>(offset));
}
}  // namespace

TEST_CASE("portable stat: the same size and nanosecond mtime as stat(2), so checkpoints carry over") {
    io_test::TempDir dir;
    write_file(dir / "a.json", row(1));
    write_file(dir / "b.json", row(1) + row(2));
    set_mtime(dir / "b.json", fs::file_time_type::clock::now() - std::chrono::hours(24 * 400),
              std::chrono::nanoseconds(123'456'789));
    fs::create_symlink(dir / "b.json", dir / "link.json");
    for (const char* name : {"a.json", "b.json", "link.json"}) {
        const auto got = detail::stat_regular_file(dir / name);
        REQUIRE(got);
        struct stat st {};
        REQUIRE(::stat((dir / name).c_str(), &st) == 0);
        CHECK(got->size == static_cast<std::uint64_t>(st.st_size));
        CHECK(got->mtime_ns == static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
    }
    // The Unix epoch, not the file clock's own.
    const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    const auto a = detail::stat_regular_file(dir / "a.json");
    CHECK(std::abs(now_ns - a->mtime_ns) < std::int64_t{60} * 1'000'000'000);
    fs::create_directories(dir / "sub");
    CHECK(!detail::stat_regular_file(dir / "sub"));
    CHECK(!detail::stat_regular_file(dir / "missing.json"));
}

TEST_CASE("portable atomic write: replaces the old content, leaves no temporary file") {
    io_test::TempDir dir;
    detail::write_file_atomically(dir / "p", "first");
    detail::write_file_atomically(dir / "p", "second, longer");
    std::ifstream in(dir / "p", std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(text == "second, longer");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir.path())) files.push_back(e.path().filename().string());
    CHECK(files == std::vector<std::string>{"p"});
    try {
        detail::write_file_atomically(dir / "no_such_dir" / "p", "x");
        FAIL("expected io_error");
    } catch (const io_error& e) {
        CHECK(std::string(e.what()).find("no_such_dir") != std::string::npos);
    }
}

TEST_CASE("portable FileSource: each file once, in (mtime, name) order, hidden and underscore files skipped") {
    io_test::TempDir dir;
    auto o = base(dir);
    const auto t0 = fs::file_time_type::clock::now() - std::chrono::seconds(100);
    // One millisecond apart: the order needs the sub-second part of the mtime.
    for (const char* n : {"x.json", "y.json", "z.json", "w.json"}) write_file(dir / "in" / n, row(1));
    set_mtime(dir / "in/x.json", t0, std::chrono::milliseconds(1));
    set_mtime(dir / "in/y.json", t0, std::chrono::milliseconds(0));
    set_mtime(dir / "in/z.json", t0, std::chrono::milliseconds(1));
    set_mtime(dir / "in/w.json", t0, std::chrono::milliseconds(2));
    write_file(dir / "in/.hidden.json", row(9));
    write_file(dir / "in/_SUCCESS", "");
    write_file(dir / "in/_tmp.json", row(9));
    FileSource source(o);
    auto plan = source.plan();
    REQUIRE(plan);
    CHECK(names(*plan) == std::vector<std::string>{"y.json", "x.json", "z.json", "w.json"});
    CHECK(source.plan() == plan);
    CHECK(source.read(*plan).data.num_rows() == 4);
    source.commit(*plan);
    CHECK(!source.plan());
    // New files while the source runs: one written in place, one renamed from a hidden name.
    write_file(dir / "in/d.json", row(4));
    write_file(dir / "in/.e.json.tmp", row(5) + row(6));
    fs::rename(dir / "in/.e.json.tmp", dir / "in/e.json");
    CHECK(drain(source) == 3);
    CHECK(!source.plan());
}

TEST_CASE("portable FileSource: the settle time holds back fresh files, also with use_notifications") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.settle_time = std::chrono::seconds(60);
    // No watcher in the portable code: notifications cannot report the file closed, so the
    // settle time applies (with inotify a closed file would be taken at once).
    o.use_notifications = true;
    o.listing_interval = std::chrono::hours(1);
    write_file(dir / "in/old.json", row(1));
    age(dir / "in/old.json", 120);
    FileSource source(o);
    write_file(dir / "in/fresh.json", row(2));
    auto p = source.plan();
    REQUIRE(p);
    CHECK(names(*p) == std::vector<std::string>{"old.json"});
    source.commit(*p);
    CHECK(!source.plan());
    age(dir / "in/fresh.json", 120);
    p = source.plan();
    REQUIRE(p);
    CHECK(names(*p) == std::vector<std::string>{"fresh.json"});
}

TEST_CASE("portable FileSource with a FileCheckpoint: replay after a restart, nothing read twice") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.max_files_per_trigger = 2;
    const auto ckpt = dir / "ckpt";
    for (int i = 0; i < 3; ++i) {
        write_file(dir / "in" / ("f" + std::to_string(i) + ".json"), row(i));
        age(dir / "in" / ("f" + std::to_string(i) + ".json"), 30 - i);
    }
    BatchPlan first;
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        first = *source.plan();
        CHECK(names(first) == std::vector<std::string>{"f0.json", "f1.json"});
        (void)source.read(first);  // crash before commit
    }
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        auto replay = source.plan();
        REQUIRE(replay);
        CHECK(*replay == first);
        CHECK(source.read(*replay).data.num_rows() == 2);
        source.commit(*replay);
    }
    {
        // The stored (size, mtime) of committed files must equal what the listing sees now.
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        auto next = source.plan();
        REQUIRE(next);
        CHECK(names(*next) == std::vector<std::string>{"f2.json"});
        source.commit(*next);
        CHECK(!source.plan());
        CHECK(source.take_notices().empty());
        write_file(dir / "in/f0.json", row(0) + row(7));  // rewritten: reported, not re-read
        CHECK(!source.plan());
        const auto notices = source.take_notices();
        REQUIRE(notices.size() == 1);
        CHECK(notices[0].file.ends_with("f0.json"));
    }
    FileSource again(o, std::make_shared<FileCheckpoint>(ckpt));
    CHECK(again.schema_version() == 1);
    CHECK(!again.plan());
    for (const auto& sub : {"plans", "commits", "schemas"})
        for (const auto& e : fs::directory_iterator(ckpt / sub))
            CHECK(e.path().filename().string().front() != '.');  // no temporary file left behind
}

TEST_CASE("portable FileSource: recursive lookup skips every file below a directory named .x or _x") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.recursive_file_lookup = true;
    o.use_notifications = true;  // no watcher here: the listing alone decides, by the same rule
    for (const char* n : {"in/_tmp/a.json", "in/.staging/b.json", "in/sub/_x/deeper/c.json", "in/sub/deep/d.json"})
        write_file(dir / n, row(1));
    FileSource source(o);
    auto p = source.plan();
    REQUIRE(p);
    CHECK(names(*p) == std::vector<std::string>{"d.json"});
}
