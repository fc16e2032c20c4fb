//! The data directory holds the SQLite database (with its WAL and shared-memory files), the
//! generated session and secrets keys and the local mail outbox: the directory is kept
//! `0700` and every file in it `0600`, so another account on the machine reads none of it.
//!
//! SQLite gives its `-wal` and `-shm` files the database file's permissions, so the database
//! file is created owner-only before the first connection; files already there (from an
//! earlier version) are narrowed at start.

use anyhow::Context;
use std::path::Path;

/// Creates `dir` (and the outbox in it) owner-only, narrows what is already there, and
/// creates the SQLite file at `database_url` owner-only when it does not exist yet.
pub fn prepare(dir: &Path, database_url: &str) -> anyhow::Result<()> {
    owner_only_dir(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
    let outbox = dir.join("outbox");
    if outbox.exists() {
        owner_only_dir(&outbox)?;
    }
    for folder in [dir, outbox.as_path()] {
        let Ok(entries) = std::fs::read_dir(folder) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                set_mode(&entry.path(), 0o600)?;
            }
        }
    }
    if let Ok((crate::db::Backend::Sqlite, path)) = crate::db::parse_url(database_url) {
        let path = Path::new(&path);
        if !path.exists() && path.parent().is_none_or(Path::exists) {
            owner_only_file(path).with_context(|| format!("creating {}", path.display()))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                set_mode(&file, 0o600)?;
            }
        }
    }
    Ok(())
}

/// Creates `dir` and its parents, and makes `dir` readable by its owner only.
pub fn owner_only_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    set_mode(dir, 0o700)
}

fn owner_only_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
