//! Atomic file writes: a reader never sees a half-written result file.
//!
//! The bytes go to `<name>.tmp` in the destination's directory, are flushed to disk, and the
//! temporary file is then renamed over the destination (a rename within one directory is atomic
//! on the platforms we support). Two writers racing on the same destination share the temporary
//! name, so callers must not write one path from two threads at once.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{EngineError, Result};

/// The temporary sibling `<name>.tmp` that [`write_atomic`] writes before renaming.
pub(crate) fn tmp_sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Creates `path`'s parent directory (and its ancestors) if it is missing.
pub(crate) fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            fs::create_dir_all(parent).map_err(|source| EngineError::Io {
                path: parent.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Flushes the already-written file `tmp` to disk and renames it to `path`; on failure the
/// temporary file is removed so no `.tmp` litter is left behind.
pub(crate) fn commit_tmp(tmp: &Path, path: &Path) -> Result<()> {
    let result = File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|source| EngineError::Io {
            path: tmp.to_path_buf(),
            source,
        })
        .and_then(|()| {
            fs::rename(tmp, path).map_err(|source| EngineError::Io {
                path: path.to_path_buf(),
                source,
            })
        });
    if result.is_err() {
        let _ = fs::remove_file(tmp);
        return result;
    }
    sync_parent_dir(path);
    Ok(())
}

/// Best-effort fsync of `path`'s directory so the rename itself is durable (not every platform
/// lets a directory be opened and synced; failure there does not lose the data already written).
fn sync_parent_dir(path: &Path) {
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Writes `bytes` to `path` atomically: creates the parent directories, writes `<name>.tmp` in
/// the same directory, fsyncs it and renames it over `path`.
///
/// # Errors
/// [`EngineError::Io`] naming the file (or directory) whose creation, write, sync or rename
/// failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    let tmp = tmp_sibling(path, ".tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(EngineError::Io { path: tmp, source });
    }
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        EngineError::Io {
            path: path.to_path_buf(),
            source,
        }
    })?;
    sync_parent_dir(path);
    Ok(())
}

/// Writes `value` to `path` atomically as pretty-printed JSON followed by a newline.
///
/// # Errors
/// [`EngineError::Io`] if `value` cannot be serialized (e.g. a map with non-string keys) or the
/// file cannot be written.
pub fn write_json_atomic<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| EngineError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("serializing JSON: {e}"),
        ),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_tmp_files(dir: &Path) -> bool {
        fs::read_dir(dir).expect("test dir is readable").all(|e| {
            let name = e.expect("dir entry").file_name();
            !name.to_string_lossy().contains(".tmp")
        })
    }

    #[test]
    fn writes_content_creates_parents_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/out.txt");
        write_atomic(&path, b"first").expect("first write");
        write_atomic(&path, b"second, longer").expect("overwrite");
        assert_eq!(fs::read(&path).expect("read back"), b"second, longer");
        assert!(no_tmp_files(&dir.path().join("a/b")));
    }

    #[test]
    fn json_is_pretty_with_trailing_newline() {
        #[derive(Serialize)]
        struct S {
            a: u32,
            b: Vec<f64>,
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("results.json");
        write_json_atomic(
            &path,
            &S {
                a: 7,
                b: vec![0.5, 1.0],
            },
        )
        .expect("write json");
        let text = fs::read_to_string(&path).expect("read back");
        assert!(text.ends_with("}\n"), "{text:?}");
        assert!(text.contains("\n  \"a\": 7,"), "{text:?}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["b"][1], 1.0);
        assert!(no_tmp_files(dir.path()));
    }

    #[test]
    fn error_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A regular file where a directory is needed.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"x").expect("write blocker");
        let err = write_atomic(&blocker.join("out.txt"), b"y").expect_err("must fail");
        assert!(matches!(err, EngineError::Io { .. }));
        assert!(err.to_string().contains("blocker"), "{err}");
    }
}
