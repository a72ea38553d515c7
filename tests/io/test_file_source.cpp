#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "catch.hpp"
#include "io/checkpoint_restart_cases.hpp"
#include "io/file_source_util.hpp"
#include "io_test_util.hpp"
#include "isoflow/io.hpp"

using namespace isoflow;
using io_test::age;
using io_test::write_file;
using io_test::base;
using io_test::drain;
using io_test::row;

TEST_CASE("FileSource reads each settled file once, in (mtime, name) order, with _source_file") {
    io_test::TempDir dir;
    auto o = base(dir);
    write_file(dir / "in/b.json", row(2));
    write_file(dir / "in/a.json", row(1));
    write_file(dir / "in/c.json", row(3));
    age(dir / "in/b.json", 30);
    age(dir / "in/a.json", 20);
    age(dir / "in/c.json", 20);
    write_file(dir / "in/.hidden.json", row(9));
    write_file(dir / "in/_SUCCESS", "");
    FileSource source(o);
    auto plan = source.plan();
    REQUIRE(plan);
    REQUIRE(plan->files.size() == 3);
    CHECK(plan->files[0].path.ends_with("b.json"));
    CHECK(plan->files[1].path.ends_with("a.json"));
    CHECK(plan->files[2].path.ends_with("c.json"));
    CHECK(source.plan() == plan);  // uncommitted: the same plan again
    const SourceBatch b = source.read(*plan);
    REQUIRE(b.data.num_rows() == 3);
    CHECK(b.data.column("cust_id").int64_values()[0] == 2);
    CHECK(b.data.column("Amount").type() == DataType::float64);
    CHECK(std::string(b.data.column("_source_file").string_at(1)).ends_with("a.json"));
    source.commit(*plan);
    CHECK(!source.plan());
    // A file appearing while the source runs, and one renamed into place from a hidden name.
    write_file(dir / "in/d.json", row(4));
    write_file(dir / "in/.e.json.tmp", row(5));
    std::filesystem::rename(dir / "in/.e.json.tmp", dir / "in/e.json");
    CHECK(drain(source) == 2);
    CHECK(!source.plan());
}

TEST_CASE("FileSource: half-written files wait for the settle time, empty files are fine") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.settle_time = std::chrono::seconds(60);
    write_file(dir / "in/fresh.json", row(1));
    write_file(dir / "in/empty.json", "");
    age(dir / "in/empty.json", 120);
    FileSource source(o);
    auto plan = source.plan();
    REQUIRE(plan);
    REQUIRE(plan->files.size() == 1);
    CHECK(plan->files[0].path.ends_with("empty.json"));
    CHECK(source.read(*plan).data.num_rows() == 0);
    source.commit(*plan);
    CHECK(!source.plan());
    age(dir / "in/fresh.json", 120);
    CHECK(drain(source) == 1);
}

TEST_CASE("FileSource: max_files_per_trigger, max_bytes_per_trigger, glob filter, recursion") {
    io_test::TempDir dir;
    auto o = base(dir);
    for (int i = 0; i < 5; ++i) write_file(dir / ("in/f" + std::to_string(i) + ".json"), row(i));
    write_file(dir / "in/notes.txt", "x");
    write_file(dir / "in/sub/g.json", row(7));
    write_file(dir / "in/_skip/h.json", row(8));
    o.path_glob_filter = "*.json";
    SECTION("files per trigger") {
        o.max_files_per_trigger = 2;
        FileSource source(o);
        std::vector<std::size_t> sizes;
        while (auto p = source.plan()) {
            sizes.push_back(p->files.size());
            source.commit(*p);
        }
        CHECK(sizes == std::vector<std::size_t>{2, 2, 1});
    }
    SECTION("bytes per trigger is soft: a file is never split") {
        o.max_bytes_per_trigger = 1;
        FileSource source(o);
        auto p = source.plan();
        REQUIRE(p);
        CHECK(p->files.size() == 1);
    }
    SECTION("recursive lookup skips hidden and underscore directories") {
        o.recursive_file_lookup = true;
        FileSource source(o);
        CHECK(drain(source) == 6);
    }
}

TEST_CASE("FileSource with a FileCheckpoint: replay after restart, stored schema, evolution") {
    io_test::TempDir dir;
    auto o = base(dir);
    const auto ckpt = dir / "ckpt";
    write_file(dir / "in/a.json", row(1));
    write_file(dir / "in/b.json", row(2));
    BatchPlan first;
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        first = *source.plan();
        (void)source.read(first);  // crash before commit
    }
    write_file(dir / "in/c.json", row(3));
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        auto replay = source.plan();
        REQUIRE(replay);
        CHECK(*replay == first);
        CHECK(source.schema_version() == 1);
        CHECK(source.schema().field(1).type == DataType::float64);
        CHECK(source.read(*replay).data.num_rows() == 2);
        source.commit(*replay);
    }
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        auto next = source.plan();
        REQUIRE(next);
        REQUIRE(next->files.size() == 1);
        CHECK(next->files[0].path.ends_with("c.json"));
        source.commit(*next);
        // A new field: a new column, a new schema version in the checkpoint.
        write_file(dir / "in/d.json", "{'cust_id': 4, 'Amount': 1.0, 'Merchant': 'shop'}\n");
        auto p = source.plan();
        REQUIRE(p);
        const SourceBatch b = source.read(*p);
        CHECK(b.schema_version == 2);
        REQUIRE(b.stats.schema_changes.size() == 1);
        CHECK(std::string(b.data.column("Merchant").string_at(0)) == "shop");
        source.commit(*p);
    }
    FileSource again(o, std::make_shared<FileCheckpoint>(ckpt));
    CHECK(again.schema_version() == 2);
    CHECK(again.schema().contains("Merchant"));
    CHECK(!again.plan());
}

TEST_CASE("FileSource: overwrites, include_existing_files, failOnNewColumns") {
    io_test::TempDir dir;
    auto o = base(dir);
    write_file(dir / "in/a.json", row(1));
    age(dir / "in/a.json", 60);
    SECTION("a rewritten file is reported, not re-read, without allow_overwrites") {
        FileSource source(o);
        CHECK(drain(source) == 1);
        write_file(dir / "in/a.json", row(1) + row(2));
        CHECK(!source.plan());
        const auto notices = source.take_notices();
        REQUIRE(notices.size() == 1);
        CHECK(notices[0].message.find("allow_overwrites") != std::string::npos);
    }
    SECTION("and re-read with allow_overwrites") {
        o.allow_overwrites = true;
        FileSource source(o);
        CHECK(drain(source) == 1);
        write_file(dir / "in/a.json", row(1) + row(2));
        CHECK(drain(source) == 2);
    }
    SECTION("include_existing_files = false takes only files that arrive later") {
        o.include_existing_files = false;
        FileSource source(o);
        CHECK(!source.plan());
        // File times come from the kernel's coarse clock, which can lag the start time by a tick.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        write_file(dir / "in/new.json", row(3));
        CHECK(drain(source) == 1);
    }
    SECTION("failOnNewColumns stops with the file and field") {
        o.schema = Schema({Field{"cust_id", DataType::int64}, Field{"Amount", DataType::float64}});
        o.schema_evolution_mode = SchemaEvolutionMode::fail_on_new_columns;
        write_file(dir / "in/b.json", "{\"cust_id\": 1, \"Amount\": 2, \"Extra\": 1}\n");
        FileSource source(o);
        auto p = source.plan();
        REQUIRE(p);
        try {
            (void)source.read(*p);
            FAIL("expected schema_error");
        } catch (const schema_error& e) {
            CHECK(std::string(e.what()).find("b.json") != std::string::npos);
            CHECK(std::string(e.what()).find("'Extra'") != std::string::npos);
        }
    }
}

TEST_CASE("FileSource: an unreadable file is reported, not committed, and does not stop others") {
    io_test::TempDir dir;
    auto o = base(dir);
    write_file(dir / "in/good.json", row(1));
    write_file(dir / "in/bad.json", row(2));
    FileSource source(o);
    auto p = source.plan();
    REQUIRE(p);
    REQUIRE(p->files.size() == 2);
    if (::geteuid() == 0) {
        // Root reads through chmod 000, so make the file vanish between plan and read instead.
        std::printf("note: running as root; the unreadable file is simulated by deleting it after planning\n");
        std::filesystem::remove(dir / "in/bad.json");
    } else {
        std::filesystem::permissions(dir / "in/bad.json", std::filesystem::perms::none);
    }
    const SourceBatch b = source.read(*p);
    CHECK(b.data.num_rows() == 1);
    REQUIRE(b.failed_files.size() == 1);
    CHECK(b.failed_files[0].file.ends_with("bad.json"));
    source.commit(*p);
    CHECK(!source.log().find(b.failed_files[0].file));
    CHECK(source.log().find((dir / "in/good.json").string()));
    // Once readable (rewritten), it is taken again.
    std::filesystem::remove(dir / "in/bad.json");
    write_file(dir / "in/bad.json", row(2) + row(3));
    age(dir / "in/bad.json", 5);
    CHECK(drain(source) == 2);
}

#if defined(__linux__)
TEST_CASE("FileSource with notifications takes closed files at once, before the settle time") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.use_notifications = true;
    o.settle_time = std::chrono::seconds(3600);
    o.listing_interval = std::chrono::hours(1);
    FileSource source(o);
    CHECK(!source.plan());
    write_file(dir / "in/x.json", row(1));
    auto p = source.plan();
    REQUIRE(p);
    CHECK(p->files.size() == 1);
    CHECK(source.read(*p).data.num_rows() == 1);
    source.commit(*p);
}
#endif

TEST_CASE("FileSource: CSV format with hints and on_malformed = skip_file") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.format = FileFormat::csv;
    o.schema_hints = "cust_id BIGINT, Time DOUBLE";
    o.read.on_malformed = OnMalformed::skip_file;
    write_file(dir / "in/1.csv", "cust_id,Time\n1,2\n");
    write_file(dir / "in/2.csv", "cust_id,Time\n3,4\n5\n");
    FileSource source(o);
    auto p = source.plan();
    REQUIRE(p);
    const SourceBatch b = source.read(*p);
    CHECK(b.data.num_rows() == 1);
    CHECK(b.data.column("Time").double_values()[0] == 2.0);
    REQUIRE(b.stats.skipped_files.size() == 1);
    CHECK(b.stats.skipped_files[0].reason.find("2.csv:3:2: ") != std::string::npos);
}

// The listing keeps only max_queued_files unread files in memory; the rest are found by the
// next listing. Files must still go in (mtime, name) order, each exactly once, with files
// arriving between plans (older or newer than those left out) placed where they belong.
TEST_CASE("FileSource: a bounded queue keeps the (mtime, name) order and skips no file") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.max_files_per_trigger = 2;
    o.max_queued_files = 3;
    std::vector<std::string> expected;
    // 12 files; mtimes from old to new follow the index, except that pairs share an mtime
    // (then the name decides); names are not in mtime order.
    for (int i = 0; i < 12; ++i) {
        const std::string name = "f" + std::to_string((i * 7) % 12 + 10) + ".json";
        write_file(dir / ("in/" + name), row(i));
        age(dir / ("in/" + name), 1000 - (i / 2) * 10);
    }
    for (const auto& e : std::filesystem::directory_iterator(dir / "in")) expected.push_back(e.path().string());
    auto mtime = [](const std::string& p) { return std::filesystem::last_write_time(p); };
    std::sort(expected.begin(), expected.end(), [&](const std::string& a, const std::string& b) {
        return mtime(a) != mtime(b) ? mtime(a) < mtime(b) : a < b;
    });

    FileSource source(o);
    std::vector<std::string> taken;
    bool added = false;
    while (auto p = source.plan()) {
        CHECK(p->files.size() <= 2);
        for (const auto& f : p->files) taken.push_back(f.path);
        (void)source.read(*p);
        source.commit(*p);
        if (!added && taken.size() >= 4) {
            // One file older than everything left, one newer than everything.
            write_file(dir / "in/old.json", row(100));
            age(dir / "in/old.json", 5000);
            write_file(dir / "in/new.json", row(101));
            age(dir / "in/new.json", 10);
            added = true;
        }
    }
    // Every file once; the first twelve in their order; the newest last. (Where old.json goes
    // depends on what was queued when it appeared: files already queued go first.)
    REQUIRE(taken.size() == 14);
    CHECK(taken.back() == (dir / "in/new.json").string());
    std::vector<std::string> originals;
    for (const auto& t : taken)
        if (t != (dir / "in/old.json").string() && t != (dir / "in/new.json").string()) originals.push_back(t);
    CHECK(originals == expected);
    CHECK(std::count(taken.begin(), taken.end(), (dir / "in/old.json").string()) == 1);
}

TEST_CASE("FileSource read-ahead: the next batch is read on another thread and becomes the next plan unchanged") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.max_files_per_trigger = 2;
    const auto ckpt = dir / "ckpt";
    for (int i = 1; i <= 4; ++i) {
        const auto name = "in/f" + std::to_string(i) + ".json";
        write_file(dir / name, i == 4 ? "{'cust_id': 4, 'Amount': 4.5, 'Merchant': 'shop'}\n" : row(i));
        age(dir / name, 100 - i);
    }
    write_file(dir / "in/f5.json", row(5));
    age(dir / "in/f5.json", 50);
    std::vector<std::int64_t> ids;
    auto collect = [&](const SourceBatch& b) {
        for (std::size_t r = 0; r < b.data.num_rows(); ++r) ids.push_back(b.data.column("cust_id").int64_values()[r]);
    };
    {
        FileSource source(o, std::make_shared<FileCheckpoint>(ckpt));
        CHECK(!source.plan_ahead());  // nothing in flight: plan() is the way
        const auto first = source.plan();
        REQUIRE(first);
        REQUIRE(first->files.size() == 2);
        const auto ahead = source.plan_ahead();
        REQUIRE(ahead);
        REQUIRE(ahead->files.size() == 2);
        CHECK(ahead->files[0].path.ends_with("f3.json"));
        CHECK(ahead->files[1].path.ends_with("f4.json"));
        CHECK(source.plan_ahead() == ahead);  // asked again: the same files
        CHECK(source.plan() == first);        // the batch in flight does not change

        const SourceBatch b1 = source.read(*first);
        collect(b1);
        auto job = source.read_job(*ahead);
        SourceBatch rows;
        std::thread reader([&] { rows = job->run(); });
        source.commit(*first);
        reader.join();
        const auto second = source.plan();
        REQUIRE(second);
        CHECK(second->files == ahead->files);
        CHECK(second->batch_id == first->batch_id + 1);
        const SourceBatch b2 = source.finish_read(*job, std::move(rows));
        REQUIRE(b2.data.num_rows() == 2);
        CHECK(b2.schema_version == 2);  // f4 brought a new column, recorded by finish_read
        CHECK(source.schema().contains("Merchant"));
        CHECK(std::string(b2.data.column("Merchant").string_at(1)) == "shop");
        CHECK(b2.data.column("Merchant").is_null(0));
        collect(b2);
        // A read-ahead that is never used: f5 is planned ahead, then the source goes away
        // (a crash) before the batch in flight commits.
        const auto third_ahead = source.plan_ahead();
        REQUIRE(third_ahead);
        CHECK(third_ahead->files.size() == 1);
    }
    FileSource restarted(o, std::make_shared<FileCheckpoint>(ckpt));
    CHECK(restarted.schema_version() == 2);
    const auto replay = restarted.plan();  // the second batch was planned, never committed
    REQUIRE(replay);
    REQUIRE(replay->files.size() == 2);
    CHECK(replay->files[0].path.ends_with("f3.json"));
    ids.resize(2);  // its rows were not committed: read them again
    collect(restarted.read(*replay));
    restarted.commit(*replay);
    while (auto p = restarted.plan()) {
        collect(restarted.read(*p));
        restarted.commit(*p);
    }
    CHECK(ids == std::vector<std::int64_t>{1, 2, 3, 4, 5});  // each row once, in order
}

TEST_CASE("FileSource read jobs: a cancelled job's rows and a job made with an old schema are refused") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.max_files_per_trigger = 1;
    write_file(dir / "in/a.json", row(1));
    write_file(dir / "in/b.json", "{'cust_id': 2, 'Amount': 2.5, 'Merchant': 'shop'}\n");
    write_file(dir / "in/c.json", row(3));
    age(dir / "in/a.json", 30);
    age(dir / "in/b.json", 20);
    age(dir / "in/c.json", 10);
    FileSource source(o);
    const auto first = source.plan();
    REQUIRE(first);
    auto job1 = source.read_job(*first);
    const auto ahead = source.plan_ahead();  // b.json
    REQUIRE(ahead);
    // Made before job1's rows were taken: it reads with schema version 1, while b.json's batch
    // (job b below) moves the source to version 2 first.
    auto early = source.read_job(*ahead);
    const SourceBatch a = source.finish_read(*job1, job1->run());
    CHECK(a.data.num_rows() == 1);
    source.commit(*first);
    const auto second = source.plan();
    REQUIRE(second);
    CHECK(second->files == ahead->files);
    auto job_b = source.read_job(*second);
    const SourceBatch b = source.finish_read(*job_b, job_b->run());
    CHECK(b.schema_version == 2);
    try {
        (void)source.finish_read(*early, early->run());
        FAIL("expected config_error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()).find("made with schema version 1 but the source is now at version 2") != std::string::npos);
    }
    source.commit(*second);
    const auto third = source.plan();
    REQUIRE(third);
    auto cancelled = source.read_job(*third);
    cancelled->cancel();
    const SourceBatch partial = cancelled->run();
    CHECK(partial.data.num_rows() == 0);  // stopped before its first file
    try {
        (void)source.finish_read(*cancelled, SourceBatch(partial));
        FAIL("expected config_error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()).find("was cancelled") != std::string::npos);
    }
    CHECK(source.read(*third).data.num_rows() == 1);  // read again, whole
}

// --- discovery ---------------------------------------------------------------------------

namespace {
std::vector<std::string> planned_names(const BatchPlan& p, const std::filesystem::path& root) {
    std::vector<std::string> out;
    for (const auto& f : p.files) out.push_back(std::filesystem::path(f.path).lexically_relative(root).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace

TEST_CASE("FileSource: files below a directory named .x or _x are never taken, by listing or by notification") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.recursive_file_lookup = true;
    for (const char* d : {"in/_tmp", "in/.staging", "in/sub/_x/deeper", "in/sub/deep"})
        std::filesystem::create_directories(dir / d);
    const std::vector<std::string> hidden = {"in/_tmp/a.json", "in/.staging/b.json", "in/sub/_x/c.json",
                                             "in/sub/_x/deeper/e.json"};
    SECTION("listing") {
        for (const auto& h : hidden) write_file(dir / h, row(1));
        write_file(dir / "in/sub/deep/d.json", row(2));
        FileSource source(o);
        auto p = source.plan();
        REQUIRE(p);
        CHECK(planned_names(*p, dir / "in") == std::vector<std::string>{"sub/deep/d.json"});
    }
#if defined(__linux__)
    SECTION("notifications: closed files in hidden directories are not taken; renamed out of one, they are") {
        o.use_notifications = true;
        o.settle_time = std::chrono::seconds(3600);  // only notifications can take a file at once
        o.listing_interval = std::chrono::hours(1);
        FileSource source(o);
        CHECK(!source.plan());
        for (const auto& h : hidden) write_file(dir / h, row(1));
        write_file(dir / "in/sub/deep/d.json", row(2));
        auto p = source.plan();
        REQUIRE(p);
        CHECK(planned_names(*p, dir / "in") == std::vector<std::string>{"sub/deep/d.json"});
        source.commit(*p);
        CHECK(!source.plan());
        // The atomic hand-over: written in a staging directory, renamed into place (IN_MOVED_TO).
        std::filesystem::rename(dir / "in/_tmp/a.json", dir / "in/sub/a.json");
        p = source.plan();
        REQUIRE(p);
        CHECK(planned_names(*p, dir / "in") == std::vector<std::string>{"sub/a.json"});
        source.commit(*p);
        CHECK(!source.plan());
    }
#endif
}

#if defined(__linux__)
TEST_CASE("FileSource with notifications: a file renamed into place is taken at once (IN_MOVED_TO)") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.use_notifications = true;
    o.settle_time = std::chrono::seconds(3600);
    o.listing_interval = std::chrono::hours(1);
    FileSource source(o);
    CHECK(!source.plan());
    write_file(dir / "outside.json", row(1));  // written elsewhere: no event in the landing directory
    std::filesystem::rename(dir / "outside.json", dir / "in/x.json");
    auto p = source.plan();
    REQUIRE(p);
    REQUIRE(p->files.size() == 1);
    CHECK(p->files[0].path.ends_with("x.json"));
    CHECK(source.read(*p).data.num_rows() == 1);
}

TEST_CASE("FileSource with notifications: subdirectories created or moved in after the start are watched") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.use_notifications = true;
    o.recursive_file_lookup = true;
    o.settle_time = std::chrono::seconds(3600);
    o.listing_interval = std::chrono::hours(1);
    FileSource source(o);
    CHECK(!source.plan());
    std::filesystem::create_directories(dir / "in/later");
    CHECK(!source.plan());  // the new directory's event: it is watched from now on
    write_file(dir / "in/later/e.json", row(1));
    auto p = source.plan();
    REQUIRE(p);
    CHECK(planned_names(*p, dir / "in") == std::vector<std::string>{"later/e.json"});
    source.commit(*p);
    // A tree made elsewhere and moved in: its subdirectories are watched too.
    std::filesystem::create_directories(dir / "staging/t/u");
    std::filesystem::rename(dir / "staging/t", dir / "in/t");
    CHECK(!source.plan());
    write_file(dir / "in/t/u/f.json", row(2));
    p = source.plan();
    REQUIRE(p);
    CHECK(planned_names(*p, dir / "in") == std::vector<std::string>{"t/u/f.json"});
}

TEST_CASE("FileSource with notifications: the backstop listing finds a file whose event was missed") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.use_notifications = true;
    o.listing_interval = std::chrono::milliseconds(2000);
    FileSource source(o);
    CHECK(!source.plan());
    // A hard link makes a file appear with neither IN_CLOSE_WRITE nor IN_MOVED_TO: the watcher
    // reports nothing, as when an event is lost.
    write_file(dir / "outside.json", row(1));
    age(dir / "outside.json", 60);
    std::filesystem::create_hard_link(dir / "outside.json", dir / "in/linked.json");
    CHECK(!source.plan());  // no event, and the next listing is not due yet
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto p = source.plan();
    REQUIRE(p);
    REQUIRE(p->files.size() == 1);
    CHECK(p->files[0].path.ends_with("linked.json"));
}
#endif

TEST_CASE("FileSource: path_glob_filter with ?, character ranges, negated sets and alternatives") {
    io_test::TempDir dir;
    auto o = base(dir);
    for (const char* n : {"a1.json", "b2.json", "x3.json", "ab.json", "c.csv", "a10.json"}) write_file(dir / "in" / n, row(1));
    auto names = [&](const std::string& glob) {
        o.path_glob_filter = glob;
        FileSource source(o);
        auto p = source.plan();
        return p ? planned_names(*p, dir / "in") : std::vector<std::string>{};
    };
    CHECK(names("?1.json") == std::vector<std::string>{"a1.json"});
    CHECK(names("[a-b]?.json") == std::vector<std::string>{"a1.json", "ab.json", "b2.json"});
    CHECK(names("[!x]?.json") == std::vector<std::string>{"a1.json", "ab.json", "b2.json"});
    CHECK(names("{x3,c}.*") == std::vector<std::string>{"c.csv", "x3.json"});
    CHECK(names("a*.json") == std::vector<std::string>{"a1.json", "a10.json", "ab.json"});
}

TEST_CASE("FileSource: max_bytes_per_trigger accumulates files up to the limit and never splits one") {
    io_test::TempDir dir;
    auto o = base(dir);
    const std::string one = row(1);  // every small file has this size
    for (int i = 0; i < 5; ++i) {
        const auto name = "in/f" + std::to_string(i) + ".json";
        write_file(dir / name, one);
        age(dir / name, 100 - i);
    }
    std::string big;
    for (int i = 0; i < 10; ++i) big += one;
    write_file(dir / "in/g_big.json", big);
    age(dir / "in/g_big.json", 90);  // after the small ones
    o.max_bytes_per_trigger = one.size() * 5 / 2;  // two small files fit, three do not
    FileSource source(o);
    std::vector<std::size_t> files, rows;
    while (auto p = source.plan()) {
        files.push_back(p->files.size());
        rows.push_back(source.read(*p).data.num_rows());
        source.commit(*p);
    }
    CHECK(files == std::vector<std::size_t>{2, 2, 1, 1});
    CHECK(rows == std::vector<std::size_t>{2, 2, 1, 10});  // the big file whole, alone
}

TEST_CASE("FileSource: max_files_per_trigger defaults to 1000") {
    io_test::TempDir dir;
    auto o = base(dir);
    CHECK(FileSourceOptions{}.max_files_per_trigger == 1000);
    for (int i = 0; i < 1001; ++i) write_file(dir / ("in/f" + std::to_string(i) + ".json"), "");
    FileSource source(o);
    auto p = source.plan();
    REQUIRE(p);
    CHECK(p->files.size() == 1000);
    source.commit(*p);
    p = source.plan();
    REQUIRE(p);
    CHECK(p->files.size() == 1);
}

// --- reading -----------------------------------------------------------------------------

TEST_CASE("FileSource: _source_line on request, rescued_data_column renamed or disabled") {
    io_test::TempDir dir;
    auto o = base(dir);
    o.schema_hints = "cust_id BIGINT";
    write_file(dir / "in/a.json", "{'cust_id': 1}\n\n{'cust_id': 'x'}\n{bad\n");
    SECTION("_source_line is the line where each record starts") {
        o.read.add_source_line = true;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        REQUIRE(b.data.num_rows() == 3);
        const auto lines = b.data.column("_source_line").int64_values();
        CHECK(std::vector<std::int64_t>(lines.begin(), lines.end()) == std::vector<std::int64_t>{1, 3, 4});
        CHECK(b.data.find_column("_rescued_data"));
    }
    SECTION("without add_source_line there is no such column") {
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(!b.data.find_column("_source_line"));
        CHECK(b.data.find_column("_source_file"));
    }
    SECTION("a custom rescued-data column name") {
        o.rescued_data_column = "_bad";
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(!b.data.find_column("_rescued_data"));
        REQUIRE(b.data.find_column("_bad"));
        CHECK(io_test::str(b.data, "_bad", 1).find("\"cust_id\": \"x\"") != std::string::npos);
        CHECK(io_test::str(b.data, "_bad", 2).find("_corrupt_record") != std::string::npos);
    }
    SECTION("an empty name: no column; values and records are only counted, rows of nulls kept") {
        o.rescued_data_column = "";
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(!b.data.find_column("_rescued_data"));
        CHECK(b.data.num_columns() == 2);  // cust_id, _source_file
        REQUIRE(b.data.num_rows() == 3);
        CHECK(b.data.column("cust_id").is_null(1));
        CHECK(b.data.column("cust_id").is_null(2));
        CHECK(b.stats.rescued_values == 1);
        CHECK(b.stats.malformed_records == 1);
    }
}

TEST_CASE("FileSource: infer_sample_files bounds the files inference reads") {
    io_test::TempDir dir;
    auto o = base(dir);
    write_file(dir / "in/a.json", "{\"x\": 1}\n");
    write_file(dir / "in/b.json", "{\"x\": 2.5}\n");
    age(dir / "in/a.json", 20);
    age(dir / "in/b.json", 10);
    SECTION("one file: only a.json's integer is seen") {
        o.infer_sample_files = 1;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(source.schema().field(0).type == DataType::int64);
        CHECK(b.data.column("x").is_null(1));
        CHECK(b.stats.rescued_values == 1);
    }
    SECTION("both files: x widens to double") {
        o.infer_sample_files = 2;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(source.schema().field(0).type == DataType::float64);
        CHECK(b.data.column("x").double_values()[1] == 2.5);
    }
}

TEST_CASE("FileSource: schema_evolution_mode for JSON and CSV") {
    io_test::TempDir dir;
    auto o = base(dir);
    const bool csv = GENERATE(false, true);
    o.format = csv ? FileFormat::csv : FileFormat::json;
    const std::string ext = csv ? ".csv" : ".json";
    write_file(dir / ("in/1" + ext), csv ? "a\n1\n" : "{\"a\": 1}\n");
    write_file(dir / ("in/2" + ext), csv ? "a,extra,more\n2,x,y\n" : "{\"a\": 2, \"extra\": \"x\", \"more\": \"y\"}\n");
    age(dir / ("in/1" + ext), 20);
    age(dir / ("in/2" + ext), 10);
    o.max_files_per_trigger = 1;  // the schema comes from 1.*; 2.* brings new fields
    auto second_batch = [&](FileSource& source) {
        auto p = source.plan();
        REQUIRE(p);
        (void)source.read(*p);
        source.commit(*p);
        p = source.plan();
        REQUIRE(p);
        return source.read(*p);
    };
    SECTION("addNewColumns (the default without a schema)") {
        FileSource source(o);
        const SourceBatch b = second_batch(source);
        CHECK(io_test::str(b.data, "extra", 0) == "x");
        CHECK(source.schema().contains("more"));
        CHECK(b.schema_version == 2);
    }
    SECTION("rescue: the schema stays; the values go to _rescued_data") {
        o.schema_evolution_mode = SchemaEvolutionMode::rescue;
        FileSource source(o);
        const SourceBatch b = second_batch(source);
        CHECK(!b.data.find_column("extra"));
        const std::string r = io_test::str(b.data, "_rescued_data", 0);
        CHECK(r.find("\"extra\": \"x\"") != std::string::npos);
        CHECK(r.find("\"more\": \"y\"") != std::string::npos);
        CHECK(b.schema_version == 1);
    }
    SECTION("none: ignored") {
        o.schema_evolution_mode = SchemaEvolutionMode::none;
        FileSource source(o);
        const SourceBatch b = second_batch(source);
        CHECK(!b.data.find_column("extra"));
        CHECK(b.data.column("_rescued_data").is_null(0));
        CHECK(b.data.column("a").int64_values()[0] == 2);
    }
    SECTION("failOnNewColumns: an error naming the file and every new field") {
        o.schema_evolution_mode = SchemaEvolutionMode::fail_on_new_columns;
        FileSource source(o);
        try {
            (void)second_batch(source);
            FAIL("expected schema_error");
        } catch (const schema_error& e) {
            const std::string m = e.what();
            CHECK(m.find("2" + ext) != std::string::npos);
            CHECK(m.find("'extra', 'more'") != std::string::npos);
        }
    }
    SECTION("with a given schema the default is none") {
        o.schema = Schema({Field{"a", DataType::int64}});
        FileSource source(o);
        const SourceBatch b = second_batch(source);
        CHECK(!b.data.find_column("extra"));
        CHECK(b.data.column("_rescued_data").is_null(0));
        CHECK(source.schema().size() == 1);
    }
}

// New columns are typed as inference types the first ones: from the file's sample (CSV) or,
// for JSON, from the values of the batch that brings them (an integer column widens to double).
TEST_CASE("FileSource: new columns are inferred, not strings, with infer_column_types") {
    io_test::TempDir dir;
    auto o = base(dir);
    // Files in/1.EXT, in/2.EXT, ... with these bodies, the first the oldest (10 s apart).
    auto land = [&](const std::string& ext, const std::vector<std::string>& bodies) {
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            const std::string name = "in/" + std::to_string(i + 1) + "." + ext;
            write_file(dir / name, bodies[i]);
            age(dir / name, static_cast<int>(10 * (bodies.size() - i)));
        }
    };
    SECTION("CSV: from the sample of the file that brings them") {
        o.format = FileFormat::csv;
        land("csv", {"a,b\n1,2\n",
                     "a,b,c,d,e\n3,4,5,x,true\n6,7,8.5,y,false\n"});
        o.infer_sample_files = 1;  // the first schema comes from 1.csv alone
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(b.data.column("c").type() == DataType::float64);
        CHECK(b.data.column("c").is_null(0));
        CHECK(b.data.column("c").double_values()[2] == 8.5);
        CHECK(b.data.column("d").type() == DataType::string);
        CHECK(b.data.column("e").type() == DataType::boolean);
        CHECK(b.data.column("_rescued_data").null_count() == 3);
        REQUIRE(b.stats.schema_changes.size() == 1);
        CHECK(b.stats.schema_changes[0].added[0].type == DataType::float64);
    }
    SECTION("CSV: a record wider than the header in the sample of a file with new columns") {
        // Sampling names the extra fields of a wide record; the header the columns are mapped
        // from must stay the file's own (this once grew while it was being walked).
        o.format = FileFormat::csv;
        land("csv", {"a,b\n1,2\n",
                     "a,b,c,d\n3,4,5,x\n6,7,8,y,9,10,11,12,13\n14,15,16,z\n"});
        o.infer_sample_files = 1;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        REQUIRE(b.data.num_rows() == 4);
        CHECK(b.data.column("c").type() == DataType::int64);
        CHECK(b.data.column("c").int64_values()[3] == 16);
        CHECK(b.data.column("d").string_at(3) == "z");
        CHECK(!b.data.find_column("_c4"));
        CHECK(!b.data.column("_rescued_data").is_null(2));  // the wide record is kept
    }
    SECTION("CSV without inference: strings") {
        o.format = FileFormat::csv;
        o.infer_column_types = false;
        write_file(dir / "in/1.csv", "a\n1\n");
        write_file(dir / "in/2.csv", "a,c\n3,5\n");
        age(dir / "in/1.csv", 20);
        o.infer_sample_files = 1;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        CHECK(b.data.column("c").type() == DataType::string);
    }
    SECTION("JSON: a column that began as integers widens to double within the batch") {
        land("json", {"{\"a\": 1}\n",
                      "{\"a\": 2, \"n\": 1}\n",
                      "{\"a\": 3, \"n\": 2.5}\n"});
        o.infer_sample_files = 1;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        REQUIRE(b.data.num_rows() == 3);
        CHECK(b.data.column("n").type() == DataType::float64);
        CHECK(b.data.column("n").double_values()[1] == 1.0);
        CHECK(b.data.column("n").double_values()[2] == 2.5);
        CHECK(b.data.column("_rescued_data").null_count() == 3);
        CHECK(source.schema().field(1).type == DataType::float64);
    }
    SECTION("JSON: a file skipped after widening a column undoes the widening") {
        o.read.on_malformed = OnMalformed::skip_file;
        land("json", {"{\"a\": 1}\n",
                      "{\"a\": 2, \"n\": 1}\n",
                      "{\"a\": 3, \"n\": 2.5}\n{bad\n"});
        o.infer_sample_files = 1;
        FileSource source(o);
        const SourceBatch b = source.read(*source.plan());
        REQUIRE(b.data.num_rows() == 2);
        REQUIRE(b.stats.skipped_files.size() == 1);
        CHECK(b.data.column("n").type() == DataType::int64);
        CHECK(b.data.column("n").int64_values()[1] == 1);
        REQUIRE(b.stats.schema_changes.size() == 1);
        CHECK(b.stats.schema_changes[0].added[0].type == DataType::int64);
    }
}
