// Test cases included by both io test programs: tests/io (the native platform code) and
// tests/io_portable (ISOFLOW_IO_PORTABLE_ONLY), since the checkpoint's files are written by
// the platform's atomic write and compared by the platform's stat after a restart.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "catch.hpp"
#include "io/io_test_util.hpp"
#include "isoflow/io.hpp"

// Test names must differ between the two programs (CTest lists both).
#if defined(ISOFLOW_IO_PORTABLE_ONLY)
#define ISOFLOW_IO_CASE_NAME(name) "portable " name
#else
#define ISOFLOW_IO_CASE_NAME(name) name
#endif

TEST_CASE(ISOFLOW_IO_CASE_NAME("FileCheckpoint keeps properties, rewritten in place, across restarts")) {
    io_test::TempDir dir;
    {
        isoflow::FileCheckpoint log(dir / "ckpt");
        log.set_property("k", "first");
        log.set_property("k", "second,\nlonger");
        log.set_property("other", "");
        CHECK(log.property("k") == "second,\nlonger");
    }
    isoflow::FileCheckpoint again(dir / "ckpt");
    CHECK(again.property("k") == "second,\nlonger");
    CHECK(again.property("other") == "");
    CHECK(!again.property("missing"));
}

TEST_CASE(ISOFLOW_IO_CASE_NAME("include_existing_files = false: the start time survives a restart")) {
    io_test::TempDir dir;
    isoflow::FileSourceOptions o;
    o.path = (dir / "in").string();
    o.settle_time = std::chrono::milliseconds(0);
    o.include_existing_files = false;
    const std::string row = "{\"a\": 1}\n";
    io_test::write_file(dir / "in/before.json", row);
    io_test::age(dir / "in/before.json", 60);
    {
        isoflow::FileSource source(o, std::make_shared<isoflow::FileCheckpoint>(dir / "ckpt"));
        CHECK(!source.plan());
    }
    // Written after the first start but before the restart: new to the source, so taken; a
    // restart must not move the start time past it. (After a pause: file times come from the
    // kernel's coarse clock, which can lag the start time, read from the fine one, by a tick.)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    io_test::write_file(dir / "in/between.json", row);
    isoflow::FileSource source(o, std::make_shared<isoflow::FileCheckpoint>(dir / "ckpt"));
    auto p = source.plan();
    REQUIRE(p);
    REQUIRE(p->files.size() == 1);
    CHECK(p->files[0].path.ends_with("between.json"));
    source.commit(*p);
    CHECK(!source.plan());
}
