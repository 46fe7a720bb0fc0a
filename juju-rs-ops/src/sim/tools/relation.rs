//! The relation tools.
