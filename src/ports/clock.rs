//! Time, real or virtual.

use async_trait::async_trait;

/// Seconds since the Unix epoch (virtual in the simulator).
pub type Timestamp = f64;

/// Time, real or virtual. The simulator's clock advances the simulated world when slept on.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    async fn sleep(&self, d: std::time::Duration);
    /// Several engines are about to share this clock concurrently (a fleet release): a virtual
    /// clock then advances only when all of them sleep. A real clock ignores it.
    fn join(&self) {}
    fn leave(&self) {}
}

/// The real clock.
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
    async fn sleep(&self, d: std::time::Duration) {
        tokio::time::sleep(d).await
    }
}
