//! The allocator against the rules of the behaviour reference §3, and properties over random
//! operation sequences.

mod common;
mod dual_stack;
mod foreign;
mod pools;
mod properties;
mod requests;
mod restore;
mod selection;
mod sharing;
