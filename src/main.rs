use clap::Parser;

/// Rust's allocations go to mimalloc. With glibc's malloc the HTTP workers and the lookup
/// threads waited on each other for its two arenas (below): a members page cost about one and a
/// half thread switches instead of one, and mimalloc, which keeps free lists per thread, takes
/// 15–25 % off the server's CPU per members page and whoami call (bench/README.md, fifth round). Built
/// without transparent huge pages (`no_thp`): with them its arenas grew the server's RSS under
/// page load from about 50 MiB to 90 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    purge_freed_memory_at_once();
    teamdeck::cli::run(teamdeck::cli::Cli::parse())
}

/// mimalloc's `purge_delay` (`mimalloc.h`, `enum mi_option_e`; checked by the test below).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc keeps memory it freed for a second before giving it back to the system. Under a
/// whoami load of 70,000 calls a second (the request records: allocated by the HTTP workers,
/// freed by the thread that writes them to PostgreSQL) that kept 8 MiB more resident and took
/// the peak RSS under page load past 64 MiB; purging at once measured no dearer in CPU.
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an option of the allocator; it takes any value at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

/// For what still uses glibc's malloc (SQLite, libpq): glibc gives each thread that allocates
/// its own malloc arena, up to eight per core; with a worker per core plus the blocking pool's
/// threads, the freed memory scattered over those arenas kept the server's RSS above 64 MiB
/// under page load. Before mimalloc (above) two arenas held every allocation, and the threads
/// waited on each other for them; the C libraries' allocations are few. Set before any thread
/// starts; a `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator setting; called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc v3's default purge delay is 1000 ms; no option next to it has that default.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads an option of the allocator.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 1000);
    }
}
