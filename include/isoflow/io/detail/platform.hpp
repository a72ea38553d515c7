// The little the io code needs from the operating system, behind two functions so that the
// rest is portable C++: a file's size and modification time with sub-second precision, and
// writing a small file durably under its final name. POSIX (Linux, macOS, the BSDs) and
// Windows; only the Linux branch is tested here. Change notifications live in watcher.hpp.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "isoflow/core/error.hpp"

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <io.h>
#include <windows.h>

#include <chrono>
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

// Size and modification time of a regular file; nullopt when it is missing, not a regular
// file, or cannot be inspected.
[[nodiscard]] inline std::optional<FileStat> stat_regular_file(const std::filesystem::path& path) {
#if defined(_WIN32)
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::is_regular_file(status)) return std::nullopt;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    const auto written = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    const auto system = std::chrono::clock_cast<std::chrono::system_clock>(written);
    return FileStat{static_cast<std::uint64_t>(size),
                    std::chrono::duration_cast<std::chrono::nanoseconds>(system.time_since_epoch()).count()};
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
#if defined(_WIN32)
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
