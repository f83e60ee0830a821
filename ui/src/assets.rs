//! Files a view needs that the browser build does not compile in (the MNIST subset): a view asks
//! for one with [`want`], the page fetches it (with progress) and reports with [`set`], and the
//! view shows [`state`] until it is there. Natively nothing is ever wanted: the files are in the
//! binary.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// The MNIST-10k subset (images and labels, gzipped IDX), for the random-labels lab's MNIST mode.
pub const MNIST10K: &str = "mnist10k";

/// Where a fetched file stands.
#[derive(Clone, Debug, PartialEq)]
pub enum AssetState {
    /// Asked for; the page has not started fetching it.
    Wanted,
    /// Downloading: bytes so far and the total when the server says it.
    Fetching {
        /// Bytes received.
        loaded: u64,
        /// Bytes expected, if known.
        total: Option<u64>,
    },
    /// Fetched and handed to the engine.
    Ready,
    /// The download failed; the message says why.
    Failed(String),
}

static ASSETS: Mutex<BTreeMap<&'static str, AssetState>> = Mutex::new(BTreeMap::new());

/// Asks for `name` (again, if a previous fetch failed).
pub fn want(name: &'static str) {
    let mut a = ASSETS.lock().unwrap_or_else(PoisonError::into_inner);
    if !matches!(
        a.get(name),
        Some(AssetState::Fetching { .. } | AssetState::Ready)
    ) {
        a.insert(name, AssetState::Wanted);
    }
}

/// The files asked for and not yet being fetched (what the page starts fetching).
pub fn wanted() -> Vec<&'static str> {
    let a = ASSETS.lock().unwrap_or_else(PoisonError::into_inner);
    a.iter()
        .filter(|(_, s)| **s == AssetState::Wanted)
        .map(|(n, _)| *n)
        .collect()
}

/// Records where `name` stands (the page, as its fetch progresses).
pub fn set(name: &'static str, state: AssetState) {
    ASSETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name, state);
}

/// Where `name` stands; `None` if nothing asked for it.
pub fn state(name: &str) -> Option<AssetState> {
    ASSETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
        .cloned()
}

/// A line for the view: what is being downloaded and how far it got.
pub fn describe(name: &str, what: &str) -> String {
    const MB: f64 = 1e6;
    match state(name) {
        None | Some(AssetState::Wanted) => format!("waiting to download {what}"),
        Some(AssetState::Fetching { loaded, total }) => match total {
            Some(t) if t > 0 => format!(
                "downloading {what}: {:.1} of {:.1} MB",
                loaded as f64 / MB,
                t as f64 / MB
            ),
            _ => format!("downloading {what}: {:.1} MB", loaded as f64 / MB),
        },
        Some(AssetState::Ready) => format!("{what} downloaded"),
        Some(AssetState::Failed(e)) => format!("{what} could not be downloaded: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wanted_asset_is_listed_until_its_fetch_starts() {
        let name = "test-asset-a";
        assert_eq!(state(name), None);
        want(name);
        assert!(wanted().contains(&name));
        set(
            name,
            AssetState::Fetching {
                loaded: 500_000,
                total: Some(1_600_000),
            },
        );
        assert!(!wanted().contains(&name));
        assert_eq!(describe(name, "X"), "downloading X: 0.5 of 1.6 MB");
        // Asking again while it downloads changes nothing.
        want(name);
        assert!(!wanted().contains(&name));
        set(name, AssetState::Failed("HTTP 404".into()));
        assert_eq!(describe(name, "X"), "X could not be downloaded: HTTP 404");
        want(name);
        assert!(wanted().contains(&name));
    }
}
