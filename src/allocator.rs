//! The binary's allocator: on x86_64 Linux (glibc), jemalloc for `serve` (a team's server) and
//! glibc's malloc for everything else (stdio above all); the system's elsewhere. Part of the
//! `msgbatch-mcp` binary (`mod allocator` in main.rs), not of the library.
//!
//! A `tools/call` over HTTP allocates about 260 times, and glibc's malloc and free were about
//! 17% of its instructions: jemalloc takes a call from 293k to 254k instructions (callgrind,
//! `tools/measure/profile-http.sh`), and lets two HTTP workers serve 18,000 calls/s in 31 MiB after
//! 1,000 connections (glibc: about 10,000 calls/s in 31.5-33 MiB; `cargo bench --bench http`).
//! For the stdio server it only costs: about 1.5 MiB more peak memory (13.5 against 11.9 MiB
//! after 2,000 pipelined calls, `cargo bench --bench mcp`; no jemalloc setting brought it under
//! 13.1), over the 12 MiB goal, for a process that serves one agent one call at a time. So the
//! choice is made per process, from its command line, at its first allocation (see
//! [`per_transport`]). mimalloc (v3 and v2) was as fast as jemalloc but peaked at 46-49 MiB
//! after 1,000 connections. Not on aarch64 Linux (jemalloc fixes the page size when it is
//! built, and 16 and 64 KiB-page kernels exist there), macOS or Windows, whose allocators stay.

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod jemalloc {

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

/// One allocator per process, chosen at its first allocation and kept to the end (every block
/// is freed by the allocator that gave it): jemalloc when the command line has a `serve`
/// argument (`serve --http ADDR`, or `serve` with `MSGBATCH_HTTP_ADDR`), glibc's malloc
/// otherwise. Deciding costs one read of `/proc/self/cmdline`, once; each allocation then pays
/// one relaxed atomic load. In a process that does not use it jemalloc only sets itself up (its
/// library constructor runs anyway) and holds no allocation.
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod per_transport {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU8, Ordering};

    use tikv_jemallocator::Jemalloc;

    const UNDECIDED: u8 = 0;
    const SYSTEM: u8 = 1;
    const JEMALLOC: u8 = 2;
    static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

    #[global_allocator]
    static ALLOCATOR: PerTransport = PerTransport;

    pub struct PerTransport;

    #[inline]
    fn jemalloc() -> bool {
        match CHOICE.load(Ordering::Relaxed) {
            JEMALLOC => true,
            SYSTEM => false,
            _ => decide(),
        }
    }

    /// The first allocation decides (the process has one thread then; a race would still keep
    /// the first decision, and both would decide the same).
    #[cold]
    fn decide() -> bool {
        let mine = if has_serve_argument() {
            JEMALLOC
        } else {
            SYSTEM
        };
        match CHOICE.compare_exchange(UNDECIDED, mine, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => mine == JEMALLOC,
            Err(first) => first == JEMALLOC,
        }
    }

    /// Whether an argument after the program's name is exactly `serve`. Raw system calls and a
    /// buffer on the stack: this runs inside the allocator, so it must not allocate. Without
    /// `/proc`, the answer is no (glibc's malloc: slower over HTTP, never wrong).
    fn has_serve_argument() -> bool {
        const WORD: &[u8] = b"serve";
        // SAFETY: a NUL-terminated path and valid flags; the descriptor is closed below.
        let fd = unsafe {
            libc::open(
                c"/proc/self/cmdline".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return false;
        }
        let mut buf = [0u8; 512];
        // Which argument this is, and how much of it matches WORD (None: it does not).
        let (mut arg, mut matched, mut found) = (0usize, Some(0usize), false);
        while !found {
            // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n @ 1..) = usize::try_from(n) else {
                break;
            };
            for &b in &buf[..n] {
                if b == 0 {
                    found |= arg > 0 && matched == Some(WORD.len());
                    arg += 1;
                    matched = Some(0);
                } else {
                    matched = matched.filter(|&m| WORD.get(m) == Some(&b)).map(|m| m + 1);
                }
            }
        }
        // SAFETY: `fd` is ours and still open.
        unsafe { libc::close(fd) };
        found
    }

    // SAFETY: every call goes to the one allocator chosen for the process, which upholds
    // GlobalAlloc's contract itself; a block is always freed or resized by the allocator that
    // gave it, since the choice never changes once made.
    unsafe impl GlobalAlloc for PerTransport {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as received.
            unsafe {
                if jemalloc() {
                    Jemalloc.alloc(layout)
                } else {
                    System.alloc(layout)
                }
            }
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as received.
            unsafe {
                if jemalloc() {
                    Jemalloc.alloc_zeroed(layout)
                } else {
                    System.alloc_zeroed(layout)
                }
            }
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded as received; `ptr` came from the same allocator.
            unsafe {
                if jemalloc() {
                    Jemalloc.dealloc(ptr, layout)
                } else {
                    System.dealloc(ptr, layout)
                }
            }
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded as received; `ptr` came from the same allocator.
            unsafe {
                if jemalloc() {
                    Jemalloc.realloc(ptr, layout, new_size)
                } else {
                    System.realloc(ptr, layout, new_size)
                }
            }
        }
    }
}
