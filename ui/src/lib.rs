//! sgdlab-ui: the egui views shared by the desktop app and the browser build.
//!
//! Empty until the desktop-app issue fills it; it is a workspace member now so that the crate
//! graph and the dependency rules in ARCHITECTURE.md hold from the start.
