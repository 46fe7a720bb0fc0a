//! What every router driver offers a test.

/// A BGP daemon a test runs against.
pub trait Router {
    /// What the router says about its sessions, printed when a test fails.
    fn diagnostics(&self) -> String;
}
