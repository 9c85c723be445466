// katachi/io/safetensors/save.hpp: writing a safetensors file atomically, and cleaning up the
// temporary files of saves that were killed (part of katachi/io/safetensors.hpp, which includes it).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <katachi/io/detail/shape_text.hpp>
#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/header.hpp>
#include <katachi/io/safetensors/json.hpp>
#include <katachi/io/safetensors/json_write.hpp>
#include <katachi/io/safetensors/tensor.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace katachi::io {

namespace detail {

// For tests: false makes save_safetensors skip O_TMPFILE and take the named-temporary path.
inline bool unnamed_temporaries = true;

// The folder a save to `target` writes its temporary file into.
inline std::filesystem::path folder_of(const std::filesystem::path& target) {
    return target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
}

// ".<file name>.tmp-": how every temporary file name of a save to `target` starts.
inline std::string temporary_prefix(const std::filesystem::path& target) {
    std::string leaf = ".";  // appended piecewise: g++ 12 misreports `"." + std::string` (-Wrestrict)
    leaf += target.filename().string();
    leaf += ".tmp-";
    return leaf;
}

inline bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The process that made temporary file `leaf`, if `leaf` is exactly <prefix><pid>-<n> with both
// numbers decimal; 0 for any other name.
inline ::pid_t temporary_owner(std::string_view leaf, std::string_view prefix) {
    if (!leaf.starts_with(prefix)) return 0;
    leaf.remove_prefix(prefix.size());
    const std::size_t dash = leaf.find('-');
    if (dash == std::string_view::npos) return 0;
    const std::string_view pid_text = leaf.substr(0, dash);
    if (!all_digits(pid_text) || !all_digits(leaf.substr(dash + 1))) return 0;
    ::pid_t pid = 0;
    const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    if (ec != std::errc() || end != pid_text.data() + pid_text.size()) return 0;
    return pid;
}

// Removes the temporary files of saves to `target` whose process no longer exists: what a save
// killed between naming its temporary and renaming it leaves, or one killed on the fallback path.
// A temporary of a live process (this one's included) is in use and stays. Failures are ignored:
// cleaning up after others never fails a save.
inline void remove_stale_temporaries(const std::filesystem::path& target) {
    const std::string prefix = temporary_prefix(target);
    std::error_code ec;
    std::filesystem::directory_iterator it(folder_of(target), ec);
    for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
        const ::pid_t pid = temporary_owner(it->path().filename().string(), prefix);
        if (pid <= 0) continue;  // not a temporary name; and kill(0 or -1, ...) would mean groups
        if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
        (void)::unlink(it->path().c_str());
    }
}

// A temporary file beside the target. On Linux it starts unnamed (O_TMPFILE), so a save killed
// while writing leaves nothing; commit() names it .<file>.tmp-<pid>-<n> and renames that over the
// target. Where unnamed files are not supported it is created under that name from the start.
// Destruction before a successful commit removes it either way.
class temporary_file {
public:
    temporary_file(const std::filesystem::path& target, const std::string& name, bool try_unnamed)
        : name_(name), target_(target), dir_(folder_of(target)) {
#ifdef O_TMPFILE
        if (try_unnamed) {
            fd_ = ::open(dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
            if (fd_ >= 0) return;
            if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) fail_to_create();
        }
#else
        (void)try_unnamed;
#endif
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = next_name();
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0) {
                named_ = true;
                return;
            }
            if (errno != EEXIST) break;
        }
        fail_to_create();
    }
    temporary_file(const temporary_file&) = delete;
    temporary_file& operator=(const temporary_file&) = delete;
    ~temporary_file() {
        if (fd_ >= 0) ::close(fd_);  // an unnamed file vanishes here
        if (named_ && !committed_) ::unlink(path_.c_str());
    }

    void write(const void* data, std::size_t size) {
        const char* p = static_cast<const char*>(data);
        while (size > 0) {
            const ::ssize_t w = ::write(fd_, p, size);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) fail(name_, "", rule::io, std::string("writing failed: ") + std::strerror(errno));
            p += w;
            size -= static_cast<std::size_t>(w);
        }
    }

    // Flushes the file, names it if unnamed, renames it over the target and syncs the folder.
    // Returns false, with the target untouched, when an unnamed file cannot be given a name (linkat
    // failed): the caller then writes a named temporary instead. Any other failure throws.
    bool commit() {
        if (::fsync(fd_) != 0)
            fail(name_, "", rule::io, std::string("fsync failed: ") + std::strerror(errno));
        if (!named_ && !link_name()) return false;
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0)
            fail(name_, "", rule::io, std::string("closing failed: ") + std::strerror(errno));
        // linkat cannot replace an existing file; rename replaces the target atomically.
        if (::rename(path_.c_str(), target_.c_str()) != 0)
            fail(name_, "", rule::io,
                 "cannot rename the temporary file over the target: " + std::string(std::strerror(errno)));
        committed_ = true;
        // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
        const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0) {
            (void)::fsync(dir_fd);
            ::close(dir_fd);
        }
        return true;
    }

private:
    std::filesystem::path next_name() const {
        static std::atomic<unsigned> counter{0};
        return dir_ /
               (temporary_prefix(target_) + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    }

    // Gives the unnamed file a name in the folder; false if the system refuses.
    bool link_name() {
        const std::string self = "/proc/self/fd/" + std::to_string(fd_);
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = next_name();
            if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                named_ = true;
                return true;
            }
            if (errno != EEXIST) break;
        }
        return false;
    }

    [[noreturn]] void fail_to_create() const {
        fail(name_, "", rule::io,
             "cannot create a temporary file in " + dir_.string() + ": " + std::strerror(errno));
    }

    std::string name_;
    std::filesystem::path target_;
    std::filesystem::path dir_;
    std::filesystem::path path_;  // the name, once it has one
    int fd_ = -1;
    bool named_ = false;
    bool committed_ = false;
};

// Fails unless `s` can be written as a JSON string (valid UTF-8).
inline void require_utf8(const std::string& s, const std::string& name, const std::string& key, rule r,
                         const std::string& what) {
    if (!valid_utf8(s)) fail(name, key, r, what + " is not valid UTF-8");
}

}  // namespace detail

// Writes atomically: on any failure the target is unchanged and no temporary file remains. A
// tensor marked uninitialized fails the save before anything is written (rule uninitialized,
// naming the first such key in the map's order).
//
// How: the file is written and fsync'd as a temporary in the target's folder, then renamed over
// the target (the rename is the atomic step), then the folder is fsync'd. On Linux the temporary
// is first unnamed (open with O_TMPFILE), so a process killed while writing leaves nothing
// behind; once complete it gets the name .<file name>.tmp-<pid>-<n> by linkat and is renamed.
// Where O_TMPFILE is not supported (EOPNOTSUPP, EISDIR, EINVAL) the temporary has that name from
// the start; if linkat fails the file is written again under that name. A kill -9 between naming
// and rename, or on that fallback path, can still leave a named temporary; so every save first
// removes the files of its folder named exactly .<file name>.tmp-<pid>-<n> whose <pid> is no live
// process (kill(pid, 0) fails with ESRCH). A temporary of a live process is never touched.
// Limits: a dead saver's pid reused by a new process keeps its temporary until that process ends;
// and pids are those of this process's pid namespace, so processes in different pid namespaces
// (containers) must not save to the same target at the same time, or one may take the other's
// temporary for a dead one's.
inline void save_safetensors(const std::filesystem::path& path, const tensor_map& tensors,
                             const metadata_map& metadata = {}) {
    const std::string name = path.string();
    if (!path.has_filename()) detail::fail(name, "", detail::rule::io, "the path names a folder, not a file");

    // Everything is checked and the header built before the temporary file exists.
    for (const auto& [key, t] : tensors)
        if (t.uninitialized)
            detail::fail(name, key, detail::rule::uninitialized,
                         "the tensor is uninitialized, so nothing was saved: its lazy module has not been "
                         "materialised yet (run a forward pass, materialize(input_shape) or "
                         "load_state_dict first)");
    // Written as nlohmann-json's dump() wrote it: compact, every object's keys in std::string order
    // (so "__metadata__" among the tensor names, and data_offsets, dtype, shape in each entry).
    std::string meta_text;
    if (!metadata.empty()) {
        meta_text = "\"__metadata__\":{";
        bool first = true;
        for (const auto& [k, v] : metadata) {
            detail::require_utf8(k, name, "__metadata__", detail::rule::metadata,
                                 "the metadata key \"" + k + "\"");
            detail::require_utf8(v, name, "__metadata__", detail::rule::metadata,
                                 "the value of metadata key \"" + k + "\"");
            if (!first) meta_text += ',';
            first = false;
            detail::append_json_string(meta_text, k);
            meta_text += ':';
            detail::append_json_string(meta_text, v);
        }
        meta_text += '}';
    }
    std::string text = "{";
    bool meta_written = meta_text.empty();
    const auto member = [&](const std::string& part) {
        if (text.size() > 1) text += ',';
        text += part;
    };
    std::uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        if (key == "__metadata__")
            detail::fail(name, key, detail::rule::entry,
                         "the name __metadata__ is reserved for the metadata object");
        detail::require_utf8(key, name, key, detail::rule::entry, "the tensor name");
        const auto need = detail::byte_count(t.type, t.shape);
        if (!need)
            detail::fail(name, key, detail::rule::byte_size,
                         "shape " + detail::shape_text(t.shape) + " needs more than 2^64 bytes (overflow)");
        if (*need != t.bytes.size())
            detail::fail(name, key, detail::rule::byte_size,
                         "shape " + detail::shape_text(t.shape) + " of " + std::string(dtype_name(t.type)) +
                             " needs " + std::to_string(*need) + " bytes but the tensor holds " +
                             std::to_string(t.bytes.size()));
        if (!meta_written && std::string_view("__metadata__") < key) {
            member(meta_text);
            meta_written = true;
        }
        std::string entry;
        detail::append_json_string(entry, key);
        entry += ":{\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + *need) +
                 "],\"dtype\":\"" + std::string(dtype_name(t.type)) + "\",\"shape\":[";
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (i) entry += ',';
            entry += std::to_string(t.shape[i]);
        }
        entry += "]}";
        member(entry);
        offset += *need;
    }
    if (!meta_written) member(meta_text);
    text += '}';
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    const std::uint64_t length = text.size();

    const auto write_file = [&](detail::temporary_file& out) {
        out.write(&length, 8);
        out.write(text.data(), text.size());
        for (const auto& [key, t] : tensors)
            if (!t.bytes.empty()) out.write(t.bytes.data(), t.bytes.size());
    };
    detail::remove_stale_temporaries(path);
    {
        detail::temporary_file out(path, name, detail::unnamed_temporaries);
        write_file(out);
        if (out.commit()) return;
    }
    // The unnamed file could not be linked into the folder: write it again under a name.
    detail::temporary_file out(path, name, false);
    write_file(out);
    (void)out.commit();
}

}  // namespace katachi::io
