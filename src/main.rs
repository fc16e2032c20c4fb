use clap::Parser;

/// Rust's allocations go to mimalloc. With glibc's malloc the HTTP workers and the lookup
/// threads waited on each other for its two arenas (below): a members page cost about one and a
/// half thread switches instead of one, and mimalloc, which keeps free lists per thread, takes
/// 15–25 % off the server's CPU per members page and whoami call (README, fifth round). Built
/// without transparent huge pages (`no_thp`): with them its arenas grew the server's RSS under
/// page load from about 50 MiB to 90 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    teamdeck::cli::run(teamdeck::cli::Cli::parse())
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
