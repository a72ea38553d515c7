// The little the io code needs from the operating system, behind two functions so that the
// rest is portable C++: a file's size and modification time with sub-second precision, and
// writing a small file durably under its final name. Change notifications live in watcher.hpp.
//
// Three implementations:
// - POSIX (Linux, macOS, the BSDs): stat(2); open/write/fsync/rename and an fsync of the
//   directory. Linux is built and tested; macOS differs only in st_mtimespec.
// - Windows: the standard library's stat (as below); _wfopen("wbc") + _commit + MoveFileExW
//   with MOVEFILE_WRITE_THROUGH. Cross-compiled (MinGW-w64), never run.
// - ISOFLOW_IO_PORTABLE_ONLY (define it for the whole program, before any isoflow header, e.g.
//   with target_compile_definitions; mixing it with TUs without it breaks the one-definition
//   rule): the C++ standard library alone. std::filesystem for size and mtime, an ofstream and
//   std::filesystem::rename for the atomic write (atomic against a crash of the process, but
//   nothing forces the data to the device), and no notifications (listing alone). What any
//   other platform would get; tested on Linux by tests/io_portable.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "isoflow/core/error.hpp"

#if defined(ISOFLOW_IO_PORTABLE_ONLY)
#include <fstream>
#elif defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <io.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace isoflow::detail {

struct FileStat {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
};

// std::filesystem's file time as nanoseconds since the Unix epoch, exactly (the value goes into
// the seen-file log and is compared for equality after a restart, so no conversion through
// now() of two clocks). libstdc++ and libc++ have file_clock::to_sys; MSVC has clock_cast
// instead. A template so that the absent alternative is never looked at.
template <class Clock = std::chrono::file_clock>
[[nodiscard]] std::int64_t file_time_to_unix_ns(typename Clock::time_point t) {
    using std::chrono::duration_cast;
    using std::chrono::nanoseconds;
    if constexpr (requires { Clock::to_sys(t); }) {
        return duration_cast<nanoseconds>(Clock::to_sys(t).time_since_epoch()).count();
    } else {
#if defined(__cpp_lib_chrono) && __cpp_lib_chrono >= 201907L
        return duration_cast<nanoseconds>(std::chrono::clock_cast<std::chrono::system_clock>(t).time_since_epoch()).count();
#else
        static_assert(sizeof(Clock) == 0, "isoflow: the standard library has neither file_clock::to_sys nor clock_cast");
        return 0;
#endif
    }
}

// Size and modification time through std::filesystem alone. Three queries rather than one
// stat: a file replaced in between may pair one version's size with another's mtime, which at
// worst makes it look changed once more.
[[nodiscard]] inline std::optional<FileStat> stat_regular_file_std(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::is_regular_file(status)) return std::nullopt;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    const auto written = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return FileStat{static_cast<std::uint64_t>(size), file_time_to_unix_ns(written)};
}

// Size and modification time of a regular file (symbolic links followed); nullopt when it is
// missing, not a regular file, or cannot be inspected.
[[nodiscard]] inline std::optional<FileStat> stat_regular_file(const std::filesystem::path& path) {
#if defined(ISOFLOW_IO_PORTABLE_ONLY) || defined(_WIN32)
    return stat_regular_file_std(path);
#else
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
#if defined(__APPLE__)
    const auto& t = st.st_mtimespec;
    const std::int64_t ns = static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
#elif defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(_POSIX_C_SOURCE)
    const auto& t = st.st_mtim;
    const std::int64_t ns = static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
#else
    const std::int64_t ns = static_cast<std::int64_t>(st.st_mtime) * 1'000'000'000;
#endif
    return FileStat{static_cast<std::uint64_t>(st.st_size), ns};
#endif
}

// Writes `text` to `path` atomically: a hidden temporary file, flushed to the device, renamed
// over `path`, then (POSIX) the directory flushed so that the rename itself survives a crash.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
    const std::filesystem::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
#if defined(ISOFLOW_IO_PORTABLE_ONLY)
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(errno));
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out) throw_error<io_error>("cannot write '" + tmp.string() + "'");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);  // replaces `path` (MoveFileExW on Windows)
    if (ec) throw_error<io_error>("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
#elif defined(_WIN32)
    std::FILE* f = ::_wfopen(tmp.c_str(), L"wbc");  // 'c': fflush commits to disk
    if (!f) throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                         ::_commit(::_fileno(f)) == 0;
    if (std::fclose(f) != 0 || !written) throw_error<io_error>("cannot write '" + tmp.string() + "'");
    if (!::MoveFileExW(tmp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        throw_error<io_error>("cannot rename '" + tmp.string() + "' to '" + path.string() + "' (error " +
                              std::to_string(::GetLastError()) + ")");
#else
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(e));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0)
        throw_error<io_error>("cannot flush '" + tmp.string() + "': " + std::strerror(errno));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw_error<io_error>("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + std::strerror(errno));
    const int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
#endif
}

}  // namespace isoflow::detail
