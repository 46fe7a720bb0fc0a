//! Memory settings of the workload processes.

/// Keeps the C allocator's footprint small for a long-running, mostly idle process: one arena
/// (the workloads run on one thread or a few), large transient buffers (list and watch bodies)
/// in their own mappings returned on free rather than in the heap, and free heap memory handed
/// back to the system beyond 128 KiB. glibc only; elsewhere a no-op.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // is started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        }
    }
}
