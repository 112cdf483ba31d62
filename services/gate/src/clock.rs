//! The gate's clock: the kernel's [`Clock`], the server's time read by the adapters (never by
//! the domain), and moved forward by tests that need time to pass.

pub use kernel::Clock;
