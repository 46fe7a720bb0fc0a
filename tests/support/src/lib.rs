//! Test support for integration tests: a real control plane and fresh namespaces.
