use clap::Parser;

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    teamdeck::cli::run(teamdeck::cli::Cli::parse())
}

/// glibc gives each thread that allocates its own malloc arena, up to eight per core; with a
/// worker per core plus the blocking pool's threads, the freed memory scattered over those
/// arenas kept the server's RSS above 64 MiB under page load. Two arenas measured the same
/// throughput (bench/run.sh). Set before any thread starts; a `MALLOC_ARENA_MAX` in the
/// environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator setting; called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
