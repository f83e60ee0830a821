//! Exports: where files go (a folder natively, a download in a browser) and PNG encoding.

/// What the app needs from where it runs.
pub trait Platform {
    /// Saves `bytes` as `name`; returns where it went (a path, or "a download").
    fn save(&self, name: &str, mime: &str, bytes: Vec<u8>) -> Result<String, String>;
    /// Keeps the page's URL fragment in step with the state (a no-op natively).
    fn set_fragment(&self, _fragment: &str) {}
}

/// Saves into a folder (created when missing): the desktop app's exports.
#[cfg(not(target_arch = "wasm32"))]
pub struct FolderPlatform {
    /// The folder.
    pub dir: std::path::PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl Platform for FolderPlatform {
    fn save(&self, name: &str, _mime: &str, bytes: Vec<u8>) -> Result<String, String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        let path = self.dir.join(name);
        // Write to a temporary name and rename, so a failed write never leaves half a file.
        let tmp = self.dir.join(format!(".{name}.partial"));
        std::fs::write(&tmp, &bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("renaming to {}: {e}", path.display()))?;
        Ok(path.display().to_string())
    }
}

/// Files saved in memory: name and bytes.
pub type SavedFiles = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// Keeps saved files in memory (tests).
#[derive(Default)]
pub struct MemoryPlatform {
    /// What was saved.
    pub saved: SavedFiles,
}

impl Platform for MemoryPlatform {
    fn save(&self, name: &str, _mime: &str, bytes: Vec<u8>) -> Result<String, String> {
        self.saved
            .lock()
            .map_err(|_| "the in-memory store is poisoned".to_string())?
            .push((name.to_string(), bytes));
        Ok(format!("{name} (in memory)"))
    }
}

/// A screenshot as PNG bytes.
pub fn png_bytes(img: &egui::ColorImage) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let [w, h] = img.size;
    let raw: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&raw, w as u32, h as u32, image::ExtendedColorType::Rgba8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}
