//! The binary's allocator: jemalloc on x86_64 Linux (glibc), the system's elsewhere. Part of
//! the `msgbatch-mcp` binary (`mod allocator` in main.rs), not of the library.
//!
//! A `tools/call` over HTTP allocates about 260 times, and glibc's malloc and free were about
//! 17% of its instructions: jemalloc takes a call from 293k to 254k instructions (callgrind,
//! `tools/measure/profile-http.sh`), and lets two HTTP workers serve 18,000 calls/s in 31 MiB after
//! 1,000 connections (glibc: about 10,000 calls/s in 31.5-33 MiB; `cargo bench --bench http`).
//! Its cost: about 1.5 MiB more peak memory for the stdio server (13.5 against 11.9 MiB after
//! 2,000 pipelined calls, `cargo bench --bench mcp`). mimalloc (v3 and v2) was as fast but
//! peaked at 46-49 MiB after 1,000 connections. Not on aarch64 Linux (jemalloc fixes the page
//! size when it is built, and 16 and 64 KiB-page kernels exist there), macOS or Windows, whose
//! allocators stay.

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod jemalloc {
    #[global_allocator]
    static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// jemalloc's `malloc_conf` (a C `const char *`), read when it starts, before `main`:
    /// - `narenas:1`: one arena for all threads (each keeps its own small cache). With an arena
    ///   per thread, `serve --http` on two workers held ~4 MiB more after a burst of 1,000
    ///   connections, for no measurable speed;
    /// - `dirty_decay_ms:1000,muzzy_decay_ms:0`: pages freed go back to the system after about
    ///   a second rather than ten, so one burst's memory is not still held at the next. With 0
    ///   (at once), throughput fell by a quarter (a system call for nearly every free).
    ///
    /// `_RJEM_MALLOC_CONF` in the environment still overrides any of them.
    #[repr(transparent)]
    pub struct Conf(*const std::ffi::c_char);

    // SAFETY: the pointer is to a static, immutable, NUL-terminated string.
    unsafe impl Sync for Conf {}

    #[unsafe(export_name = "_rjem_malloc_conf")]
    pub static MALLOC_CONF: Conf = Conf(c"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());
}
