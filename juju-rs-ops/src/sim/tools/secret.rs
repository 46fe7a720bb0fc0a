//! The secret tools.
